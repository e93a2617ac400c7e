"""Write a small latents file by hand, the way an encoder would, then read it back.

    python examples/write_and_inspect.py [latents.h5]
    fastdci inspect latents.h5
"""

import sys

import numpy as np

from fastdci.io import LatentsWriter, open_latents

path = sys.argv[1] if len(sys.argv) > 1 else "latents.h5"
names, sizes = ("shape", "scale", "orientation", "posX", "posY"), (3, 6, 40, 32, 32)
rng = np.random.default_rng(0)
n, latent_dim = 20_000, 10

# a toy "encoder": each factor in its own latent, plus noise and five collapsed latents
classes = np.stack([rng.integers(0, s, n) for s in sizes], axis=1)
mean = rng.normal(scale=0.05, size=(n, latent_dim)).astype(np.float32)
mean[:, :5] += classes / (np.array(sizes) - 1)

with LatentsWriter(path, latent_dim=latent_dim, factor_names=names, factor_sizes=sizes, with_logvar=False,
                   dataset={"name": "toy"}, model={"name": "aligned toy code"}, overwrite=True) as w:
    for start in range(0, n, 4096):  # stream batch by batch
        w.append(mean[start:start + 4096], classes=classes[start:start + 4096])

with open_latents(path) as r:
    print(r)

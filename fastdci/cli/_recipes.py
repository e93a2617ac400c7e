"""The training defaults of ``fastdci demo`` and ``fastdci train`` by device."""

#: the CPU recipe (benchmarks/demo_recipe.py searched it; results in benchmarks/results/pipeline.md):
#: beta-TCVAE (total-correlation weight 6) on disentanglement_lib's network with a 10x learning
#: rate, sized so the whole demo takes under 10 minutes on 2 cores
CPU_RECIPE = {"steps": 4000, "lr": 1e-3, "objective": "tcvae", "beta": 6.0}
CPU_STEPS = CPU_RECIPE["steps"]
#: GPU defaults: disentanglement_lib's standard run (beta-VAE, beta 4, lr 1e-4, 300,000 steps)
GPU_RECIPE = {"steps": 300_000, "lr": 1e-4, "objective": "beta", "beta": 4.0}
GPU_STEPS = GPU_RECIPE["steps"]
#: the CPU demo encodes every 2nd orientation, posX and posY value: a complete grid of
#: 3 x 6 x 20 x 16 x 16 = 92,160 images, so every intervention metric still applies; with a
#: GPU, the full 737,280-image grid
LATTICE_STRIDES = (1, 1, 2, 2, 2)

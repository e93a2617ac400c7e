"""Hot loops: Numba kernels on the CPU (cpu.py; the booster's boosting.py and boosting_trees.py,
its softmax in boosting_softmax.py with float32_exp.py's vectorising exp),
torch on CUDA (torch_hist.py, the histogram; torch_boosting.py, the booster's twins); binning.py
holds the booster's bin edges (NumPy)."""

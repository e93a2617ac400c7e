"""Hot loops: Numba kernels on the CPU (cpu.py, boosting.py), CuPy/torch on CUDA (cuda.py,
torch_boosting.py); binning.py holds the booster's bin edges (NumPy)."""

"""Hot loops: Numba kernels on the CPU (cpu.py; the booster's boosting.py, boosting_trees.py and
boosting_predict.py, its softmax in boosting_softmax.py; the logistic fit's logistic_objective.py
and softmax_residual.py, their shared row reductions in row_softmax.py; fast_exp.py's
vectorising float32 and float64 exps for both), torch on CUDA (torch_hist.py, the histogram;
torch_boosting.py, the booster's twins); binning.py holds the booster's bin edges (NumPy)."""

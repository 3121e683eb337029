"""PyTorch interop: the torch mirror of every network (`mirror`) and state_dict export and
import (`checkpoint`). torch is imported only inside the functions that need it."""

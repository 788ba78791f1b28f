"""The nn.Module classes: the base class, containers, layers, activations, losses."""
from .module import Module, RemovableHandle
from .container import Sequential, ModuleList, ModuleDict
from .linear import Identity, Linear, Bilinear
from .activation import (ReLU, LeakyReLU, ELU, GELU, SiLU, Softplus, Tanh, Sigmoid, Softmax,
                         LogSoftmax)
from .layers import Flatten, Dropout, Embedding, LayerNorm
from .loss import (L1Loss, MSELoss, SmoothL1Loss, HuberLoss, NLLLoss, CrossEntropyLoss,
                   BCELoss, BCEWithLogitsLoss, KLDivLoss)

__all__ = ["Module", "RemovableHandle", "Sequential", "ModuleList", "ModuleDict", "Identity",
           "Linear", "Bilinear", "ReLU", "LeakyReLU", "ELU", "GELU", "SiLU", "Softplus",
           "Tanh", "Sigmoid", "Softmax", "LogSoftmax", "Flatten", "Dropout", "Embedding",
           "LayerNorm", "L1Loss", "MSELoss", "SmoothL1Loss", "HuberLoss", "NLLLoss",
           "CrossEntropyLoss", "BCELoss", "BCEWithLogitsLoss", "KLDivLoss"]

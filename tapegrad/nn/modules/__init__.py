"""The nn.Module classes: the base class, containers, layers, activations, attention,
recurrent layers, transformer layers, losses."""
from .module import Module, RemovableHandle
from .container import Container, Sequential, ModuleList, ModuleDict
from .linear import Identity, Linear, Bilinear
from .activation import (ReLU, LeakyReLU, ELU, GELU, SiLU, Softplus, Tanh, Sigmoid, Softmax,
                         LogSoftmax, Hardtanh, ReLU6, SELU, CELU, Hardswish, Hardsigmoid, Mish,
                         LogSigmoid, Softsign, Tanhshrink, Softmin, PReLU, Threshold, GLU,
                         Softshrink, Hardshrink, Softmax2d, MultiheadAttention, RReLU)
from .layers import (Flatten, Unflatten, Dropout, Dropout1d, Dropout2d, Dropout3d, Embedding,
                     EmbeddingBag,
                     AlphaDropout, FeatureAlphaDropout,
                     LayerNorm)
from .normalization import (BatchNorm1d, BatchNorm2d, BatchNorm3d, SyncBatchNorm, GroupNorm, RMSNorm,
                            InstanceNorm1d, InstanceNorm2d, InstanceNorm3d, LocalResponseNorm,
                            CrossMapLRN2d)
from .upsampling import Upsample, UpsamplingNearest2d, UpsamplingBilinear2d
from .distance import CosineSimilarity, PairwiseDistance
from .paramcontainer import ParameterList, ParameterDict
from .rnn import RNNBase, RNN, LSTM, GRU, RNNCellBase, RNNCell, LSTMCell, GRUCell
from .conv import (Conv1d, Conv2d, Conv3d, ConvTranspose1d, ConvTranspose2d,
                   ConvTranspose3d)
from .pooling import (MaxPool1d, MaxPool2d, MaxPool3d, AvgPool1d, AvgPool2d, AvgPool3d,
                      AdaptiveAvgPool1d, AdaptiveAvgPool2d, AdaptiveAvgPool3d, AdaptiveMaxPool1d,
                      AdaptiveMaxPool2d, AdaptiveMaxPool3d, LPPool1d, LPPool2d, LPPool3d,
                      MaxUnpool1d, MaxUnpool2d, MaxUnpool3d, FractionalMaxPool2d,
                      FractionalMaxPool3d)
from .padding import (ConstantPad1d, ConstantPad2d, ConstantPad3d, ZeroPad1d, ZeroPad2d, ZeroPad3d,
                      ReflectionPad1d, ReflectionPad2d, ReflectionPad3d, ReplicationPad1d,
                      ReplicationPad2d, ReplicationPad3d, CircularPad1d, CircularPad2d,
                      CircularPad3d)
from .pixelshuffle import PixelShuffle, PixelUnshuffle, ChannelShuffle
from .adaptive import AdaptiveLogSoftmaxWithLoss
from .fold import Fold, Unfold
from .transformer import (Transformer, TransformerEncoder, TransformerDecoder,
                          TransformerEncoderLayer, TransformerDecoderLayer)
from .lazy import (LazyLinear, LazyConv1d, LazyConv2d, LazyConv3d, LazyConvTranspose1d,
                   LazyConvTranspose2d, LazyConvTranspose3d, LazyBatchNorm1d, LazyBatchNorm2d,
                   LazyBatchNorm3d, LazyInstanceNorm1d, LazyInstanceNorm2d, LazyInstanceNorm3d)
from .loss import (L1Loss, MSELoss, SmoothL1Loss, HuberLoss, NLLLoss, NLLLoss2d, CrossEntropyLoss,
                   BCELoss, BCEWithLogitsLoss, KLDivLoss, MarginRankingLoss, HingeEmbeddingLoss,
                   PoissonNLLLoss, GaussianNLLLoss, SoftMarginLoss, MultiLabelSoftMarginLoss,
                   CosineEmbeddingLoss, MultiMarginLoss, MultiLabelMarginLoss, TripletMarginLoss,
                   TripletMarginWithDistanceLoss, CTCLoss, LinearCrossEntropyLoss)
from .linear_cross_entropy_options import LinearCrossEntropyOptions
# torch.nn.modules' submodules whose classes live elsewhere here (their names, for programs that
# import them from there or reach them as nn.modules.batchnorm._BatchNorm)
from . import batchnorm, channelshuffle, dropout, flatten, instancenorm, sparse, utils  # noqa: F401,E402

__all__ = ["Module", "RemovableHandle", "Sequential", "ModuleList", "ModuleDict", "Identity",
           "Linear", "Bilinear", "ReLU", "LeakyReLU", "ELU", "GELU", "SiLU", "Softplus",
           "Tanh", "Sigmoid", "Softmax", "LogSoftmax", "Flatten", "Dropout", "Embedding",
           "LayerNorm", "L1Loss", "MSELoss", "SmoothL1Loss", "HuberLoss", "NLLLoss",
           "CrossEntropyLoss", "BCELoss", "BCEWithLogitsLoss", "KLDivLoss",
           "Hardtanh", "ReLU6", "SELU", "CELU", "Hardswish", "Hardsigmoid", "Mish", "LogSigmoid",
           "Softsign", "Tanhshrink", "Softmin", "Unflatten", "BatchNorm1d", "BatchNorm2d",
           "BatchNorm3d", "SyncBatchNorm", "GroupNorm", "CosineSimilarity", "PairwiseDistance", "ParameterList",
           "ParameterDict", "Dropout1d", "Dropout2d", "Dropout3d", "AlphaDropout",
           "FeatureAlphaDropout", "PReLU", "Threshold", "GLU",
           "Softshrink", "Hardshrink", "MarginRankingLoss", "HingeEmbeddingLoss",
           "PoissonNLLLoss", "GaussianNLLLoss", "RNNBase", "RNN", "LSTM", "GRU", "RNNCellBase",
           "RNNCell", "LSTMCell", "GRUCell", "Conv1d", "Conv2d", "Conv3d", "MaxPool1d",
           "MaxPool2d", "MaxPool3d", "AvgPool1d", "AvgPool2d", "AvgPool3d", "AdaptiveAvgPool1d",
           "AdaptiveAvgPool2d", "AdaptiveAvgPool3d", "Softmax2d", "ConstantPad1d", "ConstantPad2d",
           "ConstantPad3d", "ZeroPad1d", "ZeroPad2d", "ZeroPad3d", "ReflectionPad1d",
           "ReflectionPad2d", "ReflectionPad3d", "ReplicationPad1d", "ReplicationPad2d",
           "ReplicationPad3d", "CircularPad1d", "CircularPad2d", "CircularPad3d", "PixelShuffle",
           "PixelUnshuffle", "Fold", "Unfold", "ConvTranspose1d", "ConvTranspose2d",
           "ConvTranspose3d", "AdaptiveMaxPool1d", "AdaptiveMaxPool2d", "AdaptiveMaxPool3d",
           "FractionalMaxPool2d", "FractionalMaxPool3d", "AdaptiveLogSoftmaxWithLoss",
           "RMSNorm", "MultiheadAttention", "Transformer", "TransformerEncoder",
           "TransformerDecoder", "TransformerEncoderLayer", "TransformerDecoderLayer",
           "EmbeddingBag", "InstanceNorm1d", "InstanceNorm2d", "InstanceNorm3d", "Upsample",
           "UpsamplingNearest2d", "UpsamplingBilinear2d", "LazyLinear", "LazyConv1d",
           "LazyConv2d", "LazyConv3d", "LazyConvTranspose1d", "LazyConvTranspose2d",
           "LazyConvTranspose3d", "LazyBatchNorm1d", "LazyBatchNorm2d", "LazyBatchNorm3d",
           "LazyInstanceNorm1d", "LazyInstanceNorm2d", "LazyInstanceNorm3d", "SoftMarginLoss",
           "MultiLabelSoftMarginLoss", "CosineEmbeddingLoss", "MultiMarginLoss",
           "MultiLabelMarginLoss", "TripletMarginLoss", "TripletMarginWithDistanceLoss",
           "LPPool1d", "LPPool2d", "LPPool3d", "LocalResponseNorm", "CrossMapLRN2d", "ChannelShuffle", "RReLU",
           "MaxUnpool1d", "MaxUnpool2d", "MaxUnpool3d", "CTCLoss", "Container", "NLLLoss2d",
           "LinearCrossEntropyLoss", "LinearCrossEntropyOptions"]

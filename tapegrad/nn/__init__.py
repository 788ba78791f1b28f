"""`tapegrad.nn`: torch.nn's Parameter, Module and layers, nn.functional, nn.init and
nn.utils, built on tapegrad's tensor ops.  Imports flow one way: parameter <- _basic <- _attention
<- functional (<- _decomps) <- _rnn, init <- _packed <- modules <- utils, parallel."""
from .parameter import Buffer, Parameter, UninitializedBuffer, UninitializedParameter
from . import attention, common_types, functional, grad, init
from .modules import *  # noqa: F401,F403
from . import utils
from . import parallel
from .parallel import DataParallel

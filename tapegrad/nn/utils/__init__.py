"""`tapegrad.nn.utils`: gradient clipping, parameters as one vector, packed sequences
(`rnn`)."""
from .clip_grad import (clip_grad_norm, clip_grad_norm_, clip_grad_value_, clip_grads_with_norm_,
                        get_total_norm)
from .convert_parameters import parameters_to_vector, vector_to_parameters
from . import rnn

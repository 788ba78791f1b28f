"""torch.optim.swap_in_optimizer_params_and_state: an optimizer's parameters and state
replaced, for the span of a `with`, by given tensors and an `optimizer.state_dict()`-shaped
dict (torch.optim._stateless), then restored.

A step inside updates the swapped-in tensors (and, in place, the state tensors of the given
dict).  The fused step needs nothing more: its cached packs are checked against the group's
parameters and `optimizer.state` by identity, so the swapped-in ones get packs of their own,
and the live ones theirs again after the swap."""
import contextlib
from collections import defaultdict
from typing import Any, NamedTuple

from ..tensor import Tensor

__all__ = ["swap_in_optimizer_params_and_state"]


class _GroupSwapinInfo(NamedTuple):
    """One group's swap: the live `optimizer.param_groups[i]` (changed in place), the
    swap-in group's settings and packed ids, and the tensors taking the params' places."""
    live_group: dict[str, Any]
    swapin_group: dict[str, Any]
    swapin_params: list[Tensor]


def _validate_state_field(state):
    """`state` maps packed parameter ids to per-parameter state dicts."""
    if not isinstance(state, dict):
        raise RuntimeError(
            "swap_in_optimizer_params_and_state requires swapin_optim_state['state'] to "
            "be a dict mapping packed parameter ids to per-param state dicts, "
            f"got {type(state).__name__}.")
    if any(isinstance(k, Tensor) for k in state):
        raise RuntimeError(
            "swap_in_optimizer_params_and_state requires optimizer.state_dict()-style "
            "state keyed by packed parameter ids.")
    if any(isinstance(k, int) and not isinstance(v, dict) for k, v in state.items()):
        raise RuntimeError(
            "swap_in_optimizer_params_and_state requires per-parameter optimizer "
            "state entries to be dictionaries.")
    return state


def _validate_param_groups_field(optimizer, param_groups):
    """`param_groups` is a list of as many groups as the live optimizer's."""
    if not isinstance(param_groups, list):
        raise RuntimeError(
            "swap_in_optimizer_params_and_state requires swapin_optim_state['param_groups'] "
            f"to be a list of param-group dicts, got {type(param_groups).__name__}.")
    if len(optimizer.param_groups) != len(param_groups):
        raise RuntimeError(
            "swapin_optim_state has a different number of parameter groups than "
            "the live optimizer.")
    return param_groups


def _validate_group_against_live(idx, group, swapin_group):
    """The packed parameter ids of swap-in group `idx`: a dict with a list of ints as
    "params", as many as the live group's, and the live group's keys exactly."""
    if not isinstance(swapin_group, dict):
        raise RuntimeError(
            "swap_in_optimizer_params_and_state requires each optimizer param group "
            "to be a dictionary.")
    swapin_param_ids = swapin_group.get("params")
    if not isinstance(swapin_param_ids, list) or not all(
            isinstance(pid, int) for pid in swapin_param_ids):
        raise RuntimeError(
            "swap_in_optimizer_params_and_state requires optimizer.state_dict()-style "
            "param_groups[*]['params'] entries keyed by packed parameter ids.")
    if len(group["params"]) != len(swapin_param_ids):
        raise RuntimeError(
            f"swapin_optim_state param group {idx} has a different number of "
            "params than the live optimizer param group.")
    swapin_only = [k for k in swapin_group if k not in group]
    live_only = [k for k in group if k not in swapin_group]
    if swapin_only or live_only:
        raise RuntimeError(
            "swap_in_optimizer_params_and_state requires optimizer.state_dict()-style "
            "param group keys to exactly match the live optimizer group keys for "
            f"group {idx}. "
            f"Keys only in swap-in: {swapin_only}. Keys only in live: {live_only}.")
    return swapin_param_ids


def _prepare_swap_in(optimizer, swapin_parameters, swapin_optim_state):
    """The swap-in state (by packed id) and each group's _GroupSwapinInfo, checked as
    torch checks them: the parameters are taken in order, group after group."""
    if not optimizer.state:
        raise RuntimeError(
            "swap_in_optimizer_params_and_state requires initialized optimizer state.")
    if not isinstance(swapin_optim_state, dict):
        raise RuntimeError(
            "swap_in_optimizer_params_and_state requires a DCP-style optimizer state_dict.")
    swapin_state = _validate_state_field(swapin_optim_state.get("state"))
    swapin_param_groups = _validate_param_groups_field(
        optimizer, swapin_optim_state.get("param_groups"))
    flat_parameters = list(swapin_parameters.values())
    offset = 0
    seen_param_ids = set()
    infos = []
    for idx, (group, swapin_group) in enumerate(
            zip(optimizer.param_groups, swapin_param_groups, strict=True)):
        swapin_param_ids = _validate_group_against_live(idx, group, swapin_group)
        seen_param_ids.update(swapin_param_ids)
        next_offset = offset + len(swapin_param_ids)
        if next_offset > len(flat_parameters):
            raise RuntimeError(
                "swap_in_optimizer_params_and_state requires the explicit parameter state to "
                "match optimizer.param_groups ordering.")
        infos.append(_GroupSwapinInfo(group, swapin_group, flat_parameters[offset:next_offset]))
        offset = next_offset
    extra_keys = [k for k in swapin_state if k not in seen_param_ids]
    if extra_keys:
        raise RuntimeError(
            "swap_in_optimizer_params_and_state requires swapin_optim_state['state'] to "
            "be keyed only by packed parameter ids from "
            f"param_groups[*]['params']; got extra keys {extra_keys!r}.")
    return swapin_state, infos


@contextlib.contextmanager
def swap_in_optimizer_params_and_state(optimizer, swapin_parameters, swapin_optim_state):
    """Temporarily replace an optimizer's parameters and state with the supplied params
    (a dict, in the order of the optimizer's parameters) and optimizer state (an
    `optimizer.state_dict()`-shaped dict), then restore them on exit.  Each group's
    settings are the swap-in group's inside; in-place edits of the swap-in state tensors
    stay, other changes to the state (new entries, replaced tensors) do not."""
    state, infos = _prepare_swap_in(optimizer, swapin_parameters, swapin_optim_state)
    original_state = optimizer.state
    # (shallow copies: the live groups' own `params` lists come back, by identity)
    snapshots = [dict(g) for g in optimizer.param_groups]
    try:
        swapin_state = defaultdict(dict)
        for info in infos:
            info.live_group["params"] = info.swapin_params
            for key, value in info.swapin_group.items():
                if key != "params":
                    info.live_group[key] = value
            for param, param_id in zip(info.swapin_params, info.swapin_group["params"],
                                       strict=True):
                # a shallow copy: in-place updates of its tensors reach the caller's dict,
                # entries the step adds or replaces do not
                swapin_state[param] = dict(state.get(param_id, {}))
        optimizer.state = swapin_state
        yield
    finally:
        for group, snapshot in zip(optimizer.param_groups, snapshots, strict=True):
            group.clear()
            group.update(snapshot)
        optimizer.state = original_state

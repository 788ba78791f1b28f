"""The state-dict round trip that the optimizer tests compare with torch (test_adafactor,
test_muon): an optimizer's state loaded into fresh ones, ours and torch's, then more steps."""
import copy

import numpy as np


def loaded_runs(tg, torch, ours, theirs, make):
    """[(params, optimizer, module)] of the five runs compared after a round trip: `ours` and
    `theirs` ((params, optimizer) after some steps with tapegrad and torch), then fresh
    optimizers `make(module, params)` over copies of the parameters, loaded with our state
    (into ours), torch's (into ours) and ours (into torch's).  Checks that the two loaded into
    ours list torch's state keys, in torch's order, with torch's dtypes."""
    (ps, opt), (tps, topt) = ours, theirs
    sd, tsd = copy.deepcopy(opt.state_dict()), copy.deepcopy(topt.state_dict())

    def fresh(mod, like, state):
        q = [mod.tensor(p.detach().numpy().copy(), requires_grad=True) for p in like]
        o = make(mod, q)
        o.load_state_dict(state)
        return q, o, mod
    ours_sd = {i: {k: torch.tensor(v.numpy()) for k, v in st.items()}
               for i, st in sd["state"].items()}
    runs = [(ps, opt, tg), (tps, topt, torch), fresh(tg, ps, sd), fresh(tg, ps, tsd),
            fresh(torch, tps, dict(tsd, state=ours_sd))]
    for _, o, _ in runs[2:4]:
        for i, st in o.state_dict()["state"].items():
            assert list(st) == list(tsd["state"][i])
            assert [v.dtype.name for v in st.values()] == [
                str(v.dtype).split(".")[1] for v in tsd["state"][i].values()]
    return runs


def step_and_compare(runs, loss_of, steps, close):
    """`steps` more steps of every run (loss_of(params, module) to differentiate), then each
    run's parameters but torch's own against torch's (`close(ours, want)`)."""
    for _ in range(steps):
        for q, o, mod in runs:
            o.zero_grad()
            loss_of(q, mod).backward()
            o.step()
    tps = runs[1][0]
    for k in range(len(tps)):
        want = tps[k].detach().numpy()
        for q, _, _ in (runs[0], runs[2], runs[3], runs[4]):
            close(np.asarray(q[k].detach().numpy()), want)

"""Bad command lines of the home energy roles stop with a usage error (exit 2) naming the
option, before anything is sent."""
import asyncio

import pytest

from examples.hems import appliance, energy_app, meter, outsider, phone


@pytest.mark.parametrize("module, argv, words", [
    (meter, ["--speed", "0"], "--speed must be positive"),
    (meter, ["--hours", "-1"], "--hours must be positive"),
    (meter, ["--interval", "0"], "--interval must be positive"),
    (meter, ["--start", "yesterday"], "--start 'yesterday'"),
    (appliance, ["dishwasher"], "invalid choice: 'dishwasher'"),
    (appliance, ["ev-charger", "--speed", "-2"], "--speed must be positive"),
    (energy_app, ["--home", "home-1"], "NAME=/CSE-ID/CSEBASE"),
    (energy_app, ["--threshold-kw", "0"], "--threshold-kw and --ack-timeout must be positive"),
    (energy_app, ["--margin-kw", "-1"], "--margin-kw and --min-off-hours not negative"),
    (phone, ["--nonsense"], "unrecognized arguments: --nonsense"),
    (outsider, ["--gateway"], "expected one argument"),
])
def test_bad_options(module, argv, words, capsys):
    with pytest.raises(SystemExit) as stopped:
        asyncio.run(module.main(argv))
    assert stopped.value.code == 2
    assert words in capsys.readouterr().err

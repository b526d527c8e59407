"""Home energy management, end to end, over the CSE's public protocol only.

Roles (each a module, each runnable alone with `python -m examples.hems.<module>`):
  meter.py       smart meter firmware (AE on the gateway): whole-home power and energy
  appliance.py   appliance firmware (AE on the gateway): power draw, obeys on/off commands
  energy_app.py  the energy application (AE on the platform): consumption, peaks, alerts,
                 load management
  phone.py       the consumer's phone app (AE on the platform): subscribes to the alerts
  outsider.py    an application without any grant: shows what it is refused
Support:
  energy.py      the application's arithmetic (pure: consumption, peaks, responsibility)
  house.py       the simulated physics (time, base load, wiring, appliance schedules)
  common.py, timestamps.py   labels, console lines, options, timestamp format
  gateway.toml, platform.toml   the CSEs' configuration
  demo.py        `python -m examples.hems`: everything at once, with a summary
"""

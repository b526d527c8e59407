"""The simulated public building: physics (`model`), what drives it (`profiles`), its shape
and device inventory (`layout`), ground truth (`truth`), the protocol servers
(`modbus_server`, `bacnet_server`) and the whole (`building.SimulatedBuilding`, imported
from there: this package's import stays free of the protocol stacks).
`python -m examples.building.sim` runs it.  See docs/building.md."""

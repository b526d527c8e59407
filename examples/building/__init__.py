"""The public-building use case (issue 16): a simulated building on real field protocols
(`sim/`), the drivers an interworking proxy uses to read and command it (`fieldbus/`).
See docs/building.md."""

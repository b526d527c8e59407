"""Examples that use the CSE only through its public protocol (the AE-side client in
`client/`).  They never import the CSE's core: each one is what a device maker or an
application developer would write against any oneM2M CSE."""

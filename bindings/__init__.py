"""Transport bindings.  Each turns its wire format into `cse.primitives.Request` and renders
`cse.primitives.Response`; none of them decides anything about resources."""

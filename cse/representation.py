"""Rendering resources into response content for each result content (rcn) value.

Every response that carries a resource is built here, so the wire form (root names,
hidden internal keys, child nesting, references) is the same for all operations.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Iterable

from .errors import bad_request
from .primitives import DesiredIdentifierResultType

if TYPE_CHECKING:
    from .type_registry import TypeRegistry

UNIVERSAL_READ = ("ty", "ri", "rn", "pi", "ct", "lt", "et")


def identifier(resource: dict, drt: int | None) -> str:
    """The ID the originator asked for: structured path (default) or resource ID."""
    if drt == DesiredIdentifierResultType.UNSTRUCTURED:
        return resource["ri"]
    return resource["_path"]


def attributes(resource: dict) -> dict:
    return {k: v for k, v in resource.items() if k[0] != "_"}


class Renderer:
    def __init__(self, types: "TypeRegistry"):
        self.types = types

    def root(self, resource: dict) -> str:
        return self.types.of(resource).root_of(resource)

    def resource(self, resource: dict) -> dict:
        return {self.root(resource): attributes(resource)}

    def partial(self, resource: dict, names: Iterable[str]) -> dict:
        rtype = self.types.of(resource)
        selected = {}
        for name in names:
            if not rtype.defines(name, resource):
                raise bad_request(f"attribute '{name}' is not defined for {rtype.type_name}")
            if name in resource:
                selected[name] = resource[name]
        return {rtype.root_of(resource): selected}

    def reference(self, resource: dict, drt: int | None) -> dict:
        return {"nm": resource["rn"], "typ": resource["ty"], "val": identifier(resource, drt)}

    def with_children(self, resource: dict, descendants: list[dict], *, include_self: bool) -> dict:
        """rcn 4 / 8: children nested under their parents as arrays per type root.

        A descendant whose parent is not in the list (filtered out by fc) is nested under
        its nearest ancestor that is, ultimately the target, so no selected resource is lost.
        `descendants` must list parents before children (storage order does)."""
        nodes: dict[str, dict] = {}
        top = attributes(resource) if include_self else {}
        nodes[resource["_path"]] = top
        for child in descendants:
            path = child["_path"]
            parent_path = path.rpartition("/")[0]
            parent_node = nodes.get(parent_path)
            while parent_node is None and "/" in parent_path:
                parent_path = parent_path.rpartition("/")[0]
                parent_node = nodes.get(parent_path)
            if parent_node is None:
                parent_node = top
            node = attributes(child)
            parent_node.setdefault(self.root(child), []).append(node)
            nodes[path] = node
        return {self.root(resource): top}

    def child_reference_list(self, resources: list[dict], drt: int | None) -> dict:
        """rcn 6: m2m:rrl."""
        return {"m2m:rrl": {"rrf": [self.reference(r, drt) for r in resources]}}

    def with_child_references(self, resource: dict, children: list[dict], drt: int | None) -> dict:
        """rcn 5: the resource plus `ch` (references to its direct children)."""
        body = attributes(resource)
        if children:
            body["ch"] = [self.reference(c, drt) for c in children]
        return {self.root(resource): body}

    def modified(self, resource: dict, given: dict, before: dict | None = None) -> dict:
        """rcn 9: attributes the CSE set or changed beyond what the request gave; for an
        UPDATE (`before`: the resource as it was) lt, which every UPDATE sets, and those
        whose value changed."""
        body = {k: v for k, v in resource.items()
                if k[0] != "_" and (k not in given or given[k] != v)
                and (before is None or k == "lt" or before.get(k) != v)}
        return {self.root(resource): body}

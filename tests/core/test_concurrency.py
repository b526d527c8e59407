"""Requests that interleave at an `await` between reading and writing (prepare_create and
prepare_update may wait for other CSEs): nothing may be written below a parent that is gone."""
from __future__ import annotations

import asyncio

import pytest

from cse.primitives import Response

OWNER = "Cowner"


@pytest.fixture
async def slow_remote(core):
    """A remote CSE whose answers wait until `release` is set."""
    assert (await core.register_ae(OWNER, rn="owner")).rsc == 2001
    release = asyncio.Event()
    asked = asyncio.Event()

    async def remote(request, cse_id, sp_id):
        asked.set()
        await release.wait()
        return Response(rsc=2000, pc={"m2m:cnt": {"ty": 3, "ri": "cntRemote"}})

    core.cse.dispatcher.remote_handler = remote
    core.asked, core.release = asked, release
    return core


def group(rn: str) -> dict:
    return {"m2m:grp": {"rn": rn, "mnm": 5, "mid": ["/id-remote/cse/cnt"]}}


async def test_create_below_a_parent_deleted_while_members_are_checked(slow_remote):
    core = slow_remote
    count = core.cse.storage.count()
    creating = asyncio.create_task(core.create("cse-in/owner", 9, group("g"), fr=OWNER))
    await asyncio.wait_for(core.asked.wait(), 5)
    assert (await core.delete("cse-in/owner", fr=OWNER)).rsc == 2002
    core.release.set()
    response = await creating
    assert response.rsc == 4004, response.pc
    assert core.cse.storage.count() == count - 1           # the AE went, nothing came
    # A new AE with the old name does not inherit anything.
    assert (await core.register_ae(OWNER, rn="owner")).rsc == 2001
    children = await core.retrieve("cse-in/owner", fr=OWNER, rcn=6)
    assert children.pc["m2m:rrl"]["rrf"] == []


async def test_update_of_a_resource_deleted_while_members_are_checked(slow_remote):
    core = slow_remote
    core.release.set()
    assert (await core.create("cse-in/owner", 9, group("g"), fr=OWNER)).rsc == 2001
    core.release.clear()
    core.asked.clear()
    updating = asyncio.create_task(core.update("cse-in/owner/g", {"m2m:grp": {"mid": ["/id-remote/cse/other"]}},
                                               fr=OWNER))
    await asyncio.wait_for(core.asked.wait(), 5)
    assert (await core.delete("cse-in/owner/g", fr=OWNER)).rsc == 2002
    core.release.set()
    assert (await updating).rsc == 4004
    assert (await core.retrieve("cse-in/owner/g", fr=OWNER)).rsc == 4004

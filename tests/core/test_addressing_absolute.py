"""Absolute addresses of another SP domain must name a CSE (was a 5000 before)."""
import pytest


@pytest.mark.parametrize("to", ["//other.sp", "//other.sp/", "//other.sp//x"])
async def test_absolute_address_without_cse_id_is_a_bad_request(core, to):
    response = await core.retrieve(to)
    assert response.rsc == 4000
    assert "no CSE-ID" in response.pc["m2m:dbg"]

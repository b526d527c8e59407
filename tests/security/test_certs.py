"""The development PKI: files, permissions, and a real TLS handshake that verifies them."""
from __future__ import annotations

import asyncio
import ssl
import stat

import pytest

from cse.certs import client_context, create_client_cert, create_dev_pki, peer_common_name, server_context


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return create_dev_pki(tmp_path_factory.mktemp("pki"))


def test_keys_are_private_and_certificates_exist(pki):
    for key in (pki.ca_key, pki.server_key):
        assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert pki.ca_cert.read_text().startswith("-----BEGIN CERTIFICATE-----")
    assert pki.server_cert.read_text().startswith("-----BEGIN CERTIFICATE-----")


def test_existing_files_are_not_overwritten(pki):
    before = pki.ca_cert.read_bytes()
    with pytest.raises(FileExistsError, match="already exists"):
        create_dev_pki(pki.directory)
    assert pki.ca_cert.read_bytes() == before


async def _handshake(pki, host: str, client: ssl.SSLContext, server: ssl.SSLContext) -> str | None:
    seen: dict = {}

    async def on_connect(reader, writer):
        seen["cn"] = peer_common_name(writer.get_extra_info("ssl_object"))
        writer.write(b"ok")
        await writer.drain()
        writer.close()

    listener = await asyncio.start_server(on_connect, host, 0, ssl=server)
    port = listener.sockets[0].getsockname()[1]
    try:
        reader, writer = await asyncio.open_connection(host, port, ssl=client,
                                                       server_hostname=host if host != "::1" else "::1")
        assert await asyncio.wait_for(reader.read(), 10) == b"ok"
        writer.close()
    finally:
        listener.close()
        await listener.wait_closed()
    return seen.get("cn")


@pytest.mark.parametrize("host", ["127.0.0.1", "::1"])
async def test_server_certificate_verifies_for_loopback(pki, host):
    try:
        await _handshake(pki, host, client_context(pki.ca_cert),
                         server_context(pki.server_cert, pki.server_key))
    except OSError as error:
        if host == "::1":
            pytest.skip(f"no IPv6 loopback here: {error}")
        raise


async def test_client_without_the_ca_refuses_the_server(pki):
    with pytest.raises(ssl.SSLCertVerificationError):
        await _handshake(pki, "127.0.0.1", client_context(None),
                         server_context(pki.server_cert, pki.server_key))


async def test_client_certificate_is_verified_and_its_name_seen(pki):
    cert, key = create_client_cert(pki, "Cmeter")
    name = await _handshake(pki, "127.0.0.1", client_context(pki.ca_cert, cert, key),
                            server_context(pki.server_cert, pki.server_key, pki.ca_cert,
                                           require_client_cert=True))
    assert name == "Cmeter"


def test_requiring_client_certificates_needs_a_ca(pki):
    with pytest.raises(ValueError, match="CA file"):
        server_context(pki.server_cert, pki.server_key, require_client_cert=True)


def test_cse_certs_command_writes_the_files(tmp_path, capsys):
    from server.cli import main

    assert main(["certs", str(tmp_path / "tls")]) == 0
    assert (tmp_path / "tls" / "server.crt").exists() and (tmp_path / "tls" / "ca.key").exists()
    assert "server certificate" in capsys.readouterr().out
    assert main(["certs", str(tmp_path / "tls")]) == 1
    assert "already exists" in capsys.readouterr().err
    assert main(["certs", str(tmp_path / "tls"), "--force", "--host", "meter.local"]) == 0

"""Opening an OPC UA session from a device's configuration, and finding the tags' nodes in it.

Everything here is done again for every session: a new ``Client``, a new secure channel and
session, node ids parsed again (a ``nsu=`` namespace URI looked up in the server's namespace
array again) and browse paths translated again. Nothing from a previous session is reused, because
a restarted server may number its namespaces differently and forgets every session-scoped handle.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from asyncua import ua
from asyncua.client.client import Client
from asyncua.crypto.security_policies import SecurityPolicyBasic256Sha256
from asyncua.ua.object_ids import ObjectIds
from cryptography import x509

from agent.config import OpcUaDeviceConfig, OpcUaTagConfig
from agent.errors import SourceError

__all__ = ["DEFAULT_APPLICATION_URI", "NodeLookup", "application_uri_of", "new_client", "resolve"]

log = logging.getLogger(__name__)

#: The application URI the agent gives when it has no certificate to take one from.
DEFAULT_APPLICATION_URI = "urn:retrofit-verify:agent"

_MODES = {
    "Sign": ua.MessageSecurityMode.Sign,
    "SignAndEncrypt": ua.MessageSecurityMode.SignAndEncrypt,
}


@dataclass(frozen=True, slots=True)
class NodeLookup:
    """Where a tag lives in this session: its node id, or why it has none (a status name)."""

    node_id: ua.NodeId | None
    reason: str | None = None


def application_uri_of(cert_path: Path) -> str | None:
    """The application URI in a certificate's subject alternative names (DER or PEM), if any.

    OPC UA (Part 4, 5.6.2) wants the client's ApplicationUri to equal the URI in its
    certificate; taking it from the certificate means the installer cannot get them out of step.
    Raises OSError when the file cannot be read, ValueError when it is not a certificate.
    """
    data = cert_path.read_bytes()
    cert = (
        x509.load_pem_x509_certificate(data)
        if data.lstrip().startswith(b"-----")
        else x509.load_der_x509_certificate(data)
    )
    try:
        names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return None
    uris = names.get_values_for_type(x509.UniformResourceIdentifier)
    return uris[0] if uris else None


async def new_client(device: OpcUaDeviceConfig, watchdog_s: float) -> Client:
    """A client for ``device`` with its security and login set, not yet connected.

    With a security policy and no ``server_certificate_path`` asyncua asks the server's
    endpoints for its certificate (network I/O). Raises OSError / ValueError for unreadable
    certificate or key files, and asyncua's errors (UaError, ConnectionError, TimeoutError) when
    the endpoints cannot be fetched.
    """
    # auto_reconnect stays off: the source re-creates client, session and subscription itself
    # (see source.py for why), so asyncua's supervisor only has to report a loss.
    client = Client(device.endpoint, timeout=device.timeout_s, watchdog_intervall=watchdog_s)
    client.session_timeout = 60_000  # ms: a vanished agent's session ends within a minute
    client.name = client.description = f"retrofit-verify agent ({device.id})"
    if device.certificate_path is not None:
        uri = application_uri_of(device.certificate_path)
        client.application_uri = uri or DEFAULT_APPLICATION_URI
    else:
        client.application_uri = DEFAULT_APPLICATION_URI
    if device.security_policy == "Basic256Sha256":
        if device.certificate_path is None or device.private_key_path is None:
            raise SourceError(
                device.id, "Basic256Sha256 needs certificate_path and private_key_path"
            )
        server_cert = device.server_certificate_path
        await client.set_security(
            SecurityPolicyBasic256Sha256,
            certificate=str(device.certificate_path),
            private_key=str(device.private_key_path),
            server_certificate=str(server_cert) if server_cert is not None else None,
            mode=_MODES[device.security_mode],
        )
    if device.auth == "username":
        if device.username is None or device.password is None:
            raise SourceError(device.id, "auth username needs username and password")
        client.set_user(device.username)
        client.set_password(device.password.get_secret_value())
    elif device.auth == "certificate":
        if device.certificate_path is None or device.private_key_path is None:
            raise SourceError(
                device.id, "auth certificate needs certificate_path and private_key_path"
            )
        await client.load_client_certificate(str(device.certificate_path))
        await client.load_private_key(device.private_key_path)
    return client


async def resolve(client: Client, tags: dict[str, OpcUaTagConfig]) -> dict[str, NodeLookup]:
    """Node ids for ``tags`` in this session: parsed node strings and translated browse paths.

    Browse paths whose every segment has a namespace index go to the server in one
    TranslateBrowsePathsToNodeIds call; a segment without an index matches a child of that name
    in any namespace (found by browsing). A tag that cannot be found gets the reason instead.
    Raises asyncua's errors for a failed service call (the session is then unusable).
    """
    found: dict[str, NodeLookup] = {}
    namespaces: list[str] | None = None
    indexed: dict[str, list[ua.QualifiedName]] = {}
    for name, tag in tags.items():
        if tag.node is not None:
            node_id = ua.NodeId.from_string(tag.node)
            if isinstance(node_id, ua.ExpandedNodeId) and node_id.NamespaceUri:
                namespaces = namespaces or await client.get_namespace_array()
                found[name] = _with_namespace_index(node_id, namespaces)
            else:
                found[name] = NodeLookup(node_id)
            continue
        if tag.browse_path is None:  # the configuration gives a node id or a browse path
            raise ValueError(f"opcua tag {name}: neither a node id nor a browse path")
        segments = [_segment(text) for text in tag.browse_path.strip("/").split("/")]
        if all(index is not None for index, _ in segments):
            indexed[name] = [ua.QualifiedName(text, index or 0) for index, text in segments]
        else:
            found[name] = await _walk(client, segments)
    if indexed:
        found.update(await _translate(client, indexed))
    return {name: found[name] for name in tags}


def _with_namespace_index(node_id: ua.ExpandedNodeId, namespaces: list[str]) -> NodeLookup:
    uri = node_id.NamespaceUri
    if uri not in namespaces:
        return NodeLookup(None, f"BadNodeIdUnknown (namespace {uri!r} not on this server)")
    index = ua.Int16(namespaces.index(uri))
    return NodeLookup(ua.NodeId(node_id.Identifier, index, node_id.NodeIdType))


def _plain(node_id: ua.NodeId) -> ua.NodeId:
    # An ExpandedNodeId (a NodeId subclass here) compares unequal to the same plain NodeId.
    return ua.NodeId(node_id.Identifier, node_id.NamespaceIndex, node_id.NodeIdType)


def _segment(text: str) -> tuple[int | None, str]:
    index, colon, name = text.partition(":")
    if colon and index.isdigit():
        return int(index), name
    return None, text


async def _translate(
    client: Client, paths: dict[str, list[ua.QualifiedName]]
) -> dict[str, NodeLookup]:
    relative_paths = []
    for names in paths.values():
        elements = [
            ua.RelativePathElement(
                ReferenceTypeId=ua.NodeId(ua.Int32(ObjectIds.HierarchicalReferences)),
                # asyncua types these fields as its Boolean marker class, which takes no value.
                IsInverse=False,  # type: ignore[arg-type]
                IncludeSubtypes=True,  # type: ignore[arg-type]
                TargetName=name,
            )
            for name in names
        ]
        relative_paths.append(ua.RelativePath(Elements=elements))
    objects = ua.NodeId(ua.Int32(ObjectIds.ObjectsFolder))
    results = await client.translate_browsepaths(objects, relative_paths)
    found = {}
    for name, result in zip(paths, results, strict=True):
        if result.StatusCode.is_good() and result.Targets:
            found[name] = NodeLookup(_plain(result.Targets[0].TargetId))
        else:
            found[name] = NodeLookup(None, result.StatusCode.name)
    return found


async def _walk(client: Client, segments: list[tuple[int | None, str]]) -> NodeLookup:
    node = client.nodes.objects
    for index, text in segments:
        children = await node.get_children_descriptions()
        match = next(
            (
                child
                for child in children
                if child.BrowseName.Name == text
                and (index is None or child.BrowseName.NamespaceIndex == index)
            ),
            None,
        )
        if match is None:
            return NodeLookup(
                None, f"BadNoMatch (no child {text!r} under {node.nodeid.to_string()})"
            )
        node = client.get_node(_plain(match.NodeId))
    return NodeLookup(node.nodeid)

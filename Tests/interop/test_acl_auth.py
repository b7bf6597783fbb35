"""ACLs and authentication through kazoo (and whoAmI through the raw client): digest, world, auth and
ip schemes, per-permission checks, invalid ACLs, the super digest from zoo.cfg, and a rejected scheme."""

from __future__ import annotations

import pytest
from kazoo.exceptions import (
    AuthFailedError,
    BadVersionError,
    InvalidACLError,
    NoAuthError,
)
from kazoo.security import (
    ACL,
    CREATOR_ALL_ACL,
    OPEN_ACL_UNSAFE,
    READ_ACL_UNSAFE,
    Id,
    Permissions,
    make_digest_acl,
    make_digest_acl_credential,
)

import rawzk
from servers import SUPER_PASSWORD, SUPER_USER


def test_default_acl_is_open(zk, base):
    acls, stat = zk.get_acls(base)
    assert acls == OPEN_ACL_UNSAFE
    assert stat == zk.exists(base)


def test_digest_acl_guards_reads_and_writes(zk, kazoo_factory, base):
    zk.add_auth("digest", "alice:pw")
    path = f"{base}/d"
    zk.create(path, b"secret", acl=[make_digest_acl("alice", "pw", all=True)])
    acls, _ = zk.get_acls(path)
    assert acls == [ACL(Permissions.ALL, Id("digest", make_digest_acl_credential("alice", "pw")))]
    assert zk.get(path)[0] == b"secret"

    stranger = kazoo_factory()
    with pytest.raises(NoAuthError):
        stranger.get(path)
    with pytest.raises(NoAuthError):
        stranger.set(path, b"x")
    with pytest.raises(NoAuthError):
        stranger.get_children(path)
    with pytest.raises(NoAuthError):
        stranger.get_acls(path)
    with pytest.raises(NoAuthError):
        stranger.create(f"{path}/child")
    # exists needs no permission.
    assert stranger.exists(path).dataLength == 6

    wrong = kazoo_factory()
    wrong.add_auth("digest", "alice:wrong")
    with pytest.raises(NoAuthError):
        wrong.get(path)

    right = kazoo_factory()
    right.add_auth("digest", "alice:pw")
    assert right.get(path)[0] == b"secret"
    right.set(path, b"changed")
    assert zk.get(path)[0] == b"changed"


def test_delete_is_checked_on_the_parent(zk, kazoo_factory, base):
    other = kazoo_factory()
    # The node's own ACL forbids everything but reads; deleting it needs DELETE on the parent only.
    zk.create(f"{base}/ro", b"r", acl=READ_ACL_UNSAFE)
    other.delete(f"{base}/ro")
    assert zk.exists(f"{base}/ro") is None
    # A parent without DELETE protects its children.
    no_delete = Permissions.READ | Permissions.WRITE | Permissions.CREATE | Permissions.ADMIN
    zk.create(f"{base}/keep", acl=[ACL(no_delete, Id("world", "anyone"))])
    zk.create(f"{base}/keep/c")
    with pytest.raises(NoAuthError):
        other.delete(f"{base}/keep/c")


def test_world_read_only(zk, kazoo_factory, base):
    path = f"{base}/ro"
    zk.create(path, b"r", acl=READ_ACL_UNSAFE)
    other = kazoo_factory()
    assert other.get(path)[0] == b"r"
    assert sorted(other.get_children(path)) == []
    with pytest.raises(NoAuthError):
        other.set(path, b"x")
    with pytest.raises(NoAuthError):
        other.create(f"{path}/c")
    with pytest.raises(NoAuthError):
        other.set_acls(path, OPEN_ACL_UNSAFE)


def test_auth_scheme_expands_to_callers_identity(zk, kazoo_factory, base):
    anon = kazoo_factory()
    with pytest.raises(InvalidACLError):
        anon.create(f"{base}/noauth", acl=CREATOR_ALL_ACL)
    zk.add_auth("digest", "bob:pw2")
    zk.create(f"{base}/mine", b"m", acl=CREATOR_ALL_ACL)
    acls, _ = zk.get_acls(f"{base}/mine")
    assert acls == [ACL(Permissions.ALL, Id("digest", make_digest_acl_credential("bob", "pw2")))]
    with pytest.raises(NoAuthError):
        anon.get(f"{base}/mine")


def test_invalid_acls_rejected(zk, base):
    for bad in (
        [ACL(Permissions.ALL, Id("digest", "no-colon"))],
        [ACL(Permissions.ALL, Id("no-such-scheme", "x"))],
        [ACL(Permissions.ALL, Id("ip", "not-an-ip"))],
    ):
        with pytest.raises(InvalidACLError):
            zk.create(f"{base}/bad", acl=bad)
    assert zk.exists(f"{base}/bad") is None


def test_ip_acl(zk, kazoo_factory, base):
    zk.create(f"{base}/local", b"l", acl=[ACL(Permissions.ALL, Id("ip", "127.0.0.1"))])
    zk.create(f"{base}/net", b"n", acl=[ACL(Permissions.ALL, Id("ip", "127.0.0.0/8"))])
    zk.create(f"{base}/far", b"f", acl=[ACL(Permissions.ALL, Id("ip", "10.1.2.3"))])
    other = kazoo_factory()
    assert other.get(f"{base}/local")[0] == b"l"
    assert other.get(f"{base}/net")[0] == b"n"
    with pytest.raises(NoAuthError):
        other.get(f"{base}/far")


def test_set_acls_versions(zk, base):
    path = f"{base}/v"
    zk.create(path)
    stat = zk.set_acls(path, READ_ACL_UNSAFE + [ACL(Permissions.ADMIN, Id("world", "anyone"))], version=0)
    assert stat.aversion == 1
    assert stat.version == 0, "setACL does not touch the data version"
    with pytest.raises(BadVersionError):
        zk.set_acls(path, OPEN_ACL_UNSAFE, version=0)
    acls, stat2 = zk.get_acls(path)
    assert stat2.aversion == 1
    assert sorted(acls, key=lambda a: a.perms) == [
        ACL(Permissions.READ, Id("world", "anyone")),
        ACL(Permissions.ADMIN, Id("world", "anyone")),
    ]


def test_super_digest_overrides_acls(zk, kazoo_factory, base):
    zk.add_auth("digest", "carol:pw")
    path = f"{base}/locked"
    zk.create(path, b"hidden", acl=[make_digest_acl("carol", "pw", all=True)])
    zk.create(f"{base}/far", b"f", acl=[ACL(Permissions.ALL, Id("ip", "10.9.9.9"))])

    admin = kazoo_factory()
    admin.add_auth("digest", f"{SUPER_USER}:{SUPER_PASSWORD}")
    assert admin.get(path)[0] == b"hidden"
    assert admin.get(f"{base}/far")[0] == b"f"
    admin.set_acls(path, OPEN_ACL_UNSAFE)
    assert kazoo_factory().get(path)[0] == b"hidden"

    impostor = kazoo_factory()
    impostor.add_auth("digest", f"{SUPER_USER}:not-the-password")
    with pytest.raises(NoAuthError):
        impostor.get(f"{base}/far")


def test_unknown_auth_scheme_fails_and_closes(raw):
    with pytest.raises(rawzk.RawError) as e:
        raw.add_auth("no-such-scheme", b"x")
    assert e.value.code == rawzk.AUTH_FAILED
    assert raw.wait_closed(5.0), "ZooKeeper closes the connection after AUTH_FAILED"


def test_unknown_auth_scheme_kazoo(kazoo_factory):
    c = kazoo_factory()
    with pytest.raises(AuthFailedError):
        c.add_auth("no-such-scheme", "x")


def test_whoami(raw):
    assert raw.whoami() == [("ip", "127.0.0.1")]
    raw.add_auth("digest", b"dave:pw")
    # ZooKeeper keeps a session's identities in a set: compare without order.
    assert sorted(raw.whoami()) == [("digest", "dave"), ("ip", "127.0.0.1")]

"""What operators keep for deployments: their own manifests and their SSH public keys, both per owner."""

from __future__ import annotations

from pynamodb.attributes import JSONAttribute, NumberAttribute, UnicodeAttribute
from pynamodb.models import Model


class Manifest(Model):
    """An operator's own profile or installer: the YAML as uploaded and the checked document."""

    class Meta:
        table_name = "manifests"

    owner_id = UnicodeAttribute(hash_key=True)
    manifest_id = UnicodeAttribute(range_key=True)
    kind = UnicodeAttribute()
    text = UnicodeAttribute()
    doc = JSONAttribute()
    created_ms = NumberAttribute()


class SshKey(Model):
    """An SSH public key in an operator's account. The key id derives from the key itself, so one key
    is held once per account."""

    class Meta:
        table_name = "ssh-keys"

    owner_id = UnicodeAttribute(hash_key=True)
    key_id = UnicodeAttribute(range_key=True)
    name = UnicodeAttribute()
    public_key = UnicodeAttribute()
    fingerprint = UnicodeAttribute()
    key_type = UnicodeAttribute()
    bits = NumberAttribute()
    created_ms = NumberAttribute()

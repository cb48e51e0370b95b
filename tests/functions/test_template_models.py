"""Every table in infra/template.yaml matches the PynamoDB model that uses it:
key schema, attribute types, and every index with its keys and projection."""

from __future__ import annotations

from typing import Any

import pytest
from chalicelib import store
from pynamodb.models import Model

from infra import resources

TEMPLATE = resources.load()
TABLES = resources.of_type(TEMPLATE, "AWS::DynamoDB::Table", {"Stage": "test", "WebOrigin": "x"})


def _keys(schema: list[dict[str, str]]) -> list[tuple[str, str]]:
    return sorted((k["AttributeName"], k["KeyType"]) for k in schema)


def _model_shape(model: type[Model]) -> dict[str, Any]:
    """The model's schema in the template's spelling, from PynamoDB's own description."""
    schema = model._get_schema()
    indexes = {}
    for index in schema.get("global_secondary_indexes", []):
        indexes[index["index_name"]] = (_keys(index["key_schema"]), index["projection"]["ProjectionType"])
    return {
        "keys": _keys(schema["key_schema"]),
        "types": {a["AttributeName"]: a["AttributeType"] for a in schema["attribute_definitions"]},
        "indexes": indexes,
    }


def _template_shape(props: dict[str, Any]) -> dict[str, Any]:
    indexes = {
        i["IndexName"]: (_keys(i["KeySchema"]), i["Projection"]["ProjectionType"])
        for i in props.get("GlobalSecondaryIndexes", [])
    }
    return {
        "keys": _keys(props["KeySchema"]),
        "types": {a["AttributeName"]: a["AttributeType"] for a in props["AttributeDefinitions"]},
        "indexes": indexes,
    }


def test_every_template_table_has_a_model_and_back() -> None:
    assert set(TABLES) == set(store.TABLES)


@pytest.mark.parametrize("logical_id", sorted(store.TABLES))
def test_model_matches_template(logical_id: str) -> None:
    suffix, models = store.TABLES[logical_id]
    props = TABLES[logical_id]
    assert props["TableName"] == f"fleetvisor-test-{suffix}"
    assert _model_shape(models[0]) == _template_shape(props)


@pytest.mark.parametrize("logical_id", sorted(store.TABLES))
def test_models_sharing_a_table_share_its_key(logical_id: str) -> None:
    _, models = store.TABLES[logical_id]
    assert {tuple(_keys(m._get_schema()["key_schema"])) for m in models} == {
        tuple(_keys(TABLES[logical_id]["KeySchema"]))
    }


def test_bucket_cors_allows_only_the_web_origin() -> None:
    buckets = resources.of_type(TEMPLATE, "AWS::S3::Bucket", {"Stage": "test", "WebOrigin": "https://ops.example"})
    rules = resources.cors_rules(buckets["ObjectsBucket"]["CorsConfiguration"])["CORSRules"]
    assert rules == [
        {
            "AllowedOrigins": ["https://ops.example"],
            "AllowedMethods": ["GET"],
            "AllowedHeaders": ["*"],
            "MaxAgeSeconds": 600,
        }
    ]

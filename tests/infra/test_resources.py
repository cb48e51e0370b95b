"""The local launcher creates what the template declares, and upgrades a
local store made from an older template (a new index) without losing data."""

from __future__ import annotations

import copy
import uuid

from infra import resources
from infra.local import LocalStack


def _template(with_index: bool, name: str) -> dict:
    table = {"Type": "AWS::DynamoDB::Table", "Properties": {
        "TableName": name, "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
        "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}]}}
    if with_index:
        table["Properties"]["AttributeDefinitions"].append({"AttributeName": "owner", "AttributeType": "S"})
        table["Properties"]["GlobalSecondaryIndexes"] = [{
            "IndexName": "by_owner", "KeySchema": [{"AttributeName": "owner", "KeyType": "HASH"}],
            "Projection": {"ProjectionType": "ALL"}}]
    return {"Resources": {"T": copy.deepcopy(table)}}


def test_a_new_index_is_added_to_an_existing_local_table(emulators: LocalStack) -> None:
    dynamodb = emulators.client("dynamodb")
    name = f"upgrade-{uuid.uuid4().hex[:8]}"
    resources._create_tables(dynamodb, _template(False, name), {})
    dynamodb.put_item(TableName=name, Item={"pk": {"S": "kept"}, "owner": {"S": "o1"}})
    resources._create_tables(dynamodb, _template(True, name), {})
    table = dynamodb.describe_table(TableName=name)["Table"]
    assert [i["IndexName"] for i in table["GlobalSecondaryIndexes"]] == ["by_owner"]
    assert dynamodb.get_item(TableName=name, Key={"pk": {"S": "kept"}})["Item"]["owner"] == {"S": "o1"}


def test_every_template_table_exists_in_the_local_store(emulators: LocalStack) -> None:
    names = set(emulators.client("dynamodb").list_tables()["TableNames"])
    wanted = {p["TableName"] for p in resources.of_type(resources.load(), "AWS::DynamoDB::Table",
                                                        {"Stage": "local", "WebOrigin": "x"}).values()}
    assert wanted <= names

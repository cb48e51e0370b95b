"""The OpenAPI document describes exactly the operator routes the app has."""

from __future__ import annotations

from typing import Any

from chalice.test import Client


def test_document_and_routes_agree_both_ways(app: Any, client: Client) -> None:
    served = client.http.get("/api/openapi.json").json_body
    documented = {(path, method.upper()) for path, ops in served["paths"].items() for method in ops}
    routed = {(path, method) for path, methods in app.routes.items() if path.startswith("/api/") for method in methods}
    assert documented == routed


def test_every_authenticated_operation_documents_401(client: Client) -> None:
    served = client.http.get("/api/openapi.json").json_body
    for path, ops in served["paths"].items():
        for method, op in ops.items():
            if op["security"]:
                assert "401" in op["responses"], (method, path)
                assert op["responses"]["401"]["content"]["application/json"]["schema"] == {
                    "$ref": "#/components/schemas/Error"
                }


def test_the_vm_parameter_documents_the_name_rule_and_its_400(client: Client) -> None:
    served = client.http.get("/api/openapi.json").json_body
    vm_operations = [op for path, ops in served["paths"].items() if "{vm}" in path for op in ops.values()]
    assert len(vm_operations) == 6  # detail, labels, actions, console, metrics, live metrics
    for op in vm_operations:
        [vm] = [p for p in op["parameters"] if p["name"] == "vm"]
        assert vm["schema"]["pattern"] == "^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
        assert "400" in op["responses"]


def test_the_vm_schema_names_every_field_a_vm_answer_has(client: Client, make_operator: Any, enrol: Any) -> None:
    op = make_operator()
    host = enrol(op)
    schemas = client.http.get("/api/openapi.json").json_body["components"]["schemas"]
    listed = client.http.get(f"/api/agents/{host.agent_id}/vms", headers=op.headers).json_body
    one = client.http.get(f"/api/agents/{host.agent_id}/vms/test", headers=op.headers).json_body
    assert set(listed) == set(schemas["VmList"]["properties"])
    assert set(listed["vms"][0]) == set(one) == set(schemas["Vm"]["properties"])
    assert one["state"] in schemas["Vm"]["properties"]["state"]["enum"]


def test_the_fleet_schema_names_every_field_a_fleet_answer_has(client: Client, make_operator: Any,
                                                                enrol: Any) -> None:
    op = make_operator()
    enrol(op)
    schemas = client.http.get("/api/openapi.json").json_body["components"]["schemas"]
    fleet = client.http.get("/api/vms", headers=op.headers).json_body
    vm_fields, fleet_fields = schemas["FleetVm"]["allOf"]
    assert vm_fields == {"$ref": "#/components/schemas/Vm"}
    assert set(fleet) == set(schemas["FleetVmList"]["properties"])
    assert set(fleet["vms"][0]) == set(schemas["Vm"]["properties"]) | set(fleet_fields["properties"])


def test_the_deployment_schemas_name_every_field_their_answers_have(client: Client, make_operator: Any) -> None:
    op = make_operator()
    schemas = client.http.get("/api/openapi.json").json_body["components"]["schemas"]
    profiles = client.http.get("/api/profiles", headers=op.headers).json_body
    installers = client.http.get("/api/installers", headers=op.headers).json_body
    client.http.post("/api/ssh-keys/generate", headers=op.headers, body='{"name": "k"}')
    keys = client.http.get("/api/ssh-keys", headers=op.headers).json_body
    assert set(profiles) == set(schemas["ProfileList"]["properties"])
    assert set(profiles["profiles"][0]) == set(schemas["Manifest"]["properties"])
    assert set(installers) == set(schemas["InstallerList"]["properties"])
    assert set(installers["installers"][0]) | {"sizing_schema"} == set(schemas["Manifest"]["properties"])
    assert set(keys["ssh_keys"][0]) == set(schemas["SshKey"]["properties"])
    assert "fields" in schemas["Error"]["properties"]["error"]["properties"]


def test_the_vm_metrics_schema_names_every_field_of_an_answer_and_its_range_parameter(
        client: Client, make_operator: Any, enrol: Any) -> None:
    op = make_operator()
    host = enrol(op)
    document = client.http.get("/api/openapi.json").json_body
    path = "/api/agents/{agent_id}/vms/{vm}/metrics"
    answer = client.http.get(f"/api/agents/{host.agent_id}/vms/test/metrics?range=day", headers=op.headers)
    assert set(answer.json_body) == set(document["components"]["schemas"]["VmMetrics"]["properties"])
    [query] = [p for p in document["paths"][path]["get"]["parameters"] if p["in"] == "query"]
    assert (query["name"], query["schema"]["enum"]) == ("range", ["hour", "day", "week"])

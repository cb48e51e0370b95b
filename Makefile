# Fleetvisor: `make up` runs the whole stack locally, `make test` runs every test.
# Both start with the same idempotent set-up step (scripts/setup.sh).

PY := .venv/bin/python

.PHONY: setup up test lint unit frontend-test bench clean package deploy destroy

STAGE ?= dev

setup:
	@bash scripts/setup.sh

up: setup
	@$(PY) -m infra.local

lint:
	@.venv/bin/ruff check functions agent cli infra tests bench scripts
	@.venv/bin/mypy functions/app.py functions/chalicelib agent/fleetvisor_agent cli/fleetvisor_cli infra bench scripts/guest/build.py scripts/guest/debian_image.py

frontend-test:
	@cd frontend && npm test --silent

test: setup lint frontend-test
	@$(PY) -m pytest

bench: setup
	@$(PY) bench/dispatch.py
	@$(PY) bench/auth.py
	@$(PY) bench/concurrency.py
	@$(PY) bench/lambda_package.py
	@$(PY) bench/cost.py --quick
	@$(PY) bench/requests_per_job.py
	@$(PY) bench/qemu_overhead.py
	@$(PY) bench/console.py
	@$(PY) bench/fleet_list_browser.py
	@$(PY) bench/deploy_form.py
	@$(PY) bench/deploy.py
	@$(PY) bench/metrics.py
	@$(PY) bench/fleet.py --agents 50 --minutes 1
	@$(PY) bench/fleet_list.py
	@$(PY) bench/fleet.py --agents 1000 --minutes 5

# AWS: `make package STAGE=dev` works offline; deploy and destroy use the caller's AWS credentials
# (infra/deploy.py says what each does; chalicefile and samconfig.toml hold the stages).
package: setup
	@$(PY) -m infra.deploy package --stage $(STAGE)

deploy: setup
	@$(PY) -m infra.deploy deploy --stage $(STAGE)

destroy: setup
	@$(PY) -m infra.deploy destroy --stage $(STAGE)

clean:
	rm -rf .venv .venv-sam dist node_modules frontend/node_modules frontend/dist functions/chalicelib/distribution/wheel

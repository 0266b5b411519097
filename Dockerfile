# The digit app in one image: TorchServe with the shipped model, the Flask front under waitress,
# Java 17. No training dependencies.
#
#   docker build -t mnist-digits .
#   docker run --rm -p 127.0.0.1:5000:5000 -p 127.0.0.1:8080:8080 mnist-digits
#
# GPU image: --build-arg TORCH_INDEX_URL= (PyPI's default torch wheels are CUDA builds), then
# docker run --gpus all ...
ARG BASE_IMAGE=python:3.11-slim-bookworm
FROM ${BASE_IMAGE}

# Where pip finds torch: the CPU-only wheels by default. Empty for PyPI's CUDA build.
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
# For builds behind a proxy or with a local wheel folder (pip reads PIP_* variables).
ARG PIP_CERT
ARG PIP_FIND_LINKS

RUN apt-get update \
 && apt-get install -y --no-install-recommends openjdk-17-jre-headless \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --create-home --uid 10001 app

WORKDIR /app
COPY requirements/serve.txt requirements/serve.txt
RUN python3 -m pip install --no-cache-dir ${TORCH_INDEX_URL:+--extra-index-url ${TORCH_INDEX_URL}} \
      -r requirements/serve.txt

COPY --chown=app:app config.properties ./
COPY --chown=app:app corrections corrections
COPY --chown=app:app handler handler
COPY --chown=app:app model_store/mnist_resnet.pt model_store/mnist_resnet_int8.pt model_store/
COPY --chown=app:app serving serving
COPY --chown=app:app web web

# Inside the container TorchServe's inference API must listen on all interfaces for -p to reach
# it; the management and metrics APIs stay on the container's loopback.
RUN sed -i 's|^inference_address=.*|inference_address=http://0.0.0.0:8080|' config.properties \
 && chown app:app /app \
 && su app -c "python3 -m serving.archive"

USER app
ENV WEB_HOST=0.0.0.0 \
    WEB_PORT=5000 \
    TORCHSERVE_INFERENCE_URL=http://127.0.0.1:8080 \
    PYTHONUNBUFFERED=1
EXPOSE 5000 8080
HEALTHCHECK --interval=15s --timeout=5s --start-period=90s --retries=3 \
  CMD ["python3", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:5000/healthz', timeout=4)"]
# Starts TorchServe, waits until the model is READY, serves the web front; exits non-zero if
# TorchServe dies, and stops both on SIGTERM.
ENTRYPOINT ["python3", "-m", "web.run_app"]

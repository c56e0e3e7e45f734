# genrekit container images, built from the repository root (docs/deploy.md).
#
#   serving image (default target): the REST API and web page with the bundled model
#       docker build -t genrekit .
#   training image: `genrekit train`, `evaluate`, `retrain`
#       docker build --target train -t genrekit-train .
#     PyPI's Linux torch wheels are CUDA builds that also run on CPU: on a GPU host run the
#     training image with `docker run --gpus all` (podman: `--device nvidia.com/gpu=all`).
#     For a smaller CPU-only training image give PyTorch's CPU wheel index (TORCH_VERSION must
#     stay the version pyproject.toml's train extra pins):
#       --build-arg TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
#   without a registry: BASE_IMAGE names a local Debian image with Python 3.11 and venv
#     (scripts/build-base-image.sh makes one with debootstrap).

ARG BASE_IMAGE=python:3.11-slim-bookworm

FROM ${BASE_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python3 -m venv /opt/genrekit
WORKDIR /src
COPY pyproject.toml README.md ./
COPY src ./src
# The serving install: genrekit without extras (no training stack) plus the PostgreSQL driver.
RUN /opt/genrekit/bin/pip install ".[postgres]"

FROM ${BASE_IMAGE} AS runtime
RUN groupadd --gid 10001 genrekit \
    && useradd --no-log-init --no-create-home --uid 10001 --gid 10001 --home-dir /var/lib/genrekit \
        --shell /usr/sbin/nologin genrekit \
    && mkdir -p /var/lib/genrekit \
    && chown 10001:10001 /var/lib/genrekit
# Everything the app writes goes to the data volume or to /tmp, so the root filesystem can
# be mounted read-only (docker run --read-only --tmpfs /tmp, or readOnlyRootFilesystem).
ENV PATH=/opt/genrekit/bin:${PATH} \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/var/lib/genrekit \
    GENREKIT_DATA_DIR=/var/lib/genrekit \
    GENREKIT_CACHE_DIR=/tmp/genrekit-cache \
    NUMBA_CACHE_DIR=/tmp/numba-cache \
    MPLCONFIGDIR=/tmp/matplotlib
WORKDIR /var/lib/genrekit
VOLUME ["/var/lib/genrekit"]

FROM runtime AS train
ARG TORCH_INDEX_URL=""
ARG TORCH_VERSION=2.13.0
COPY --from=build /opt/genrekit /opt/genrekit
COPY --from=build /src /opt/genrekit-src
RUN if [ -n "${TORCH_INDEX_URL}" ]; then \
        /opt/genrekit/bin/pip install --no-cache-dir --index-url "${TORCH_INDEX_URL}" "torch==${TORCH_VERSION}"; \
    fi \
    && /opt/genrekit/bin/pip install --no-cache-dir "/opt/genrekit-src[train,postgres]"
USER 10001:10001
ENTRYPOINT ["genrekit"]
CMD ["train", "--help"]

FROM runtime AS serve
COPY --from=build /opt/genrekit /opt/genrekit
# Key mode from the start: API calls answer 401 until `genrekit keys create` makes a key.
ENV GENREKIT_DEPLOYMENT=deployed \
    GENREKIT_REQUIRE_KEYS=1
USER 10001:10001
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=120s --retries=3 \
    CMD ["python3", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["genrekit"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8000"]

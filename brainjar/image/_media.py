"""The media types and annotation keys of a brainjar jar image (written down in the README)."""

from __future__ import annotations

MANIFEST_MEDIA_TYPE = "application/vnd.oci.image.manifest.v1+json"
INDEX_MEDIA_TYPE = "application/vnd.oci.image.index.v1+json"
# The image's artifactType and its config blob's media type.
CONFIG_MEDIA_TYPE = "application/vnd.brainjar.jar.config.v1+json"
# The manifest and the files it needs, as a plain (uncompressed, reproducible) tar.
LAYER_MEDIA_TYPE = "application/vnd.oci.image.layer.v1.tar"
# CNCF ModelPack: raw weights, readable by other model tools.
WEIGHT_MEDIA_TYPE = "application/vnd.cncf.model.weight.v1.raw"

# The manifest's name inside the files layer.
JAR_FILE = "brainjar.yaml"
# Where the weights go in an unpacked image.
WEIGHTS_DIR = "weights"

REF_NAME = "org.opencontainers.image.ref.name"
TITLE = "org.opencontainers.image.title"
VERSION = "org.opencontainers.image.version"
CREATED = "org.opencontainers.image.created"
SOURCE = "org.opencontainers.image.source"
REVISION = "org.opencontainers.image.revision"
DESCRIPTION = "org.opencontainers.image.description"

PREFIX = "dev.brainjar."
PARAMETERS = PREFIX + "model.parameters"
QUANTIZATION = PREFIX + "model.quantization"
CONTEXT_LENGTH = PREFIX + "model.context-length"
BACKEND = PREFIX + "model.backend"
MEMORY = PREFIX + "memory"
GPU = PREFIX + "gpu"
TOOLS = PREFIX + "tools"
ENDPOINTS = PREFIX + "endpoints"
LABELS = PREFIX + "labels"

# What a manifest's metadata.annotations may say to override the computed needs.
MANIFEST_MEMORY_KEYS = ("brainjar.dev/memory", "brainjar.dev/min-memory")
MANIFEST_GPU_KEY = "brainjar.dev/gpu"

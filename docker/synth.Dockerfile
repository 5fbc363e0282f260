# CPU-only rendering image (no torch): `synth render ...` on a laptop, a batch node or a Ray cluster (head and
# workers: docker/ray-cluster.yaml for the Ray cluster launcher, docker/kuberay-synth.yaml for KubeRay).
#   docker build -f docker/synth.Dockerfile -t pseudomotion-synth .
FROM python:3.11-slim
# wget: KubeRay's default readiness and liveness probes call it (docker/kuberay-synth.yaml).
RUN apt-get update && apt-get install -y --no-install-recommends wget && rm -rf /var/lib/apt/lists/*
WORKDIR /opt/pseudomotion
COPY pyproject.toml constraints.txt README.md ./
COPY synth ./synth
COPY train ./train
COPY eval ./eval
COPY manifests ./manifests
# s3: --out s3://... and S3-compatible stores from every node, without a shared filesystem.
RUN pip install --no-cache-dir -c constraints.txt '.[synth,s3]'
ENV PSEUDOMOTION_SOURCE_CARDS=/opt/pseudomotion/manifests/sources \
    PSEUDOMOTION_DATA_ROOT=/data
ENTRYPOINT ["synth"]

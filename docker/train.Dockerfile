# GPU image for pre-training and evaluation: `train-vmae ...`, `eval-vmae ...` (torchrun for several GPUs).
#   docker build -f docker/train.Dockerfile -t pseudomotion-train .
FROM nvidia/cuda:12.8.1-cudnn-runtime-ubuntu24.04
RUN apt-get update && apt-get install -y --no-install-recommends python3 python3-venv && rm -rf /var/lib/apt/lists/*
RUN python3 -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /opt/pseudomotion
COPY pyproject.toml constraints.txt README.md ./
COPY synth ./synth
COPY train ./train
COPY eval ./eval
COPY manifests ./manifests
RUN pip install --no-cache-dir -c constraints.txt '.[train]'
ENV PSEUDOMOTION_SOURCE_CARDS=/opt/pseudomotion/manifests/sources
ENTRYPOINT ["train-vmae"]

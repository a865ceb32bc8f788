# A CPU-only image with shieldkit: docker build -t shieldkit . && docker run --rm -v "$PWD:/work" shieldkit demo
FROM python:3.11-slim
ENV PIP_NO_CACHE_DIR=1 PYTHONDONTWRITEBYTECODE=1
WORKDIR /opt/shieldkit
RUN pip install torch==2.14.1 torchvision==0.29.1 --index-url https://download.pytorch.org/whl/cpu
COPY pyproject.toml README.md ./
COPY shieldkit ./shieldkit
COPY cli ./cli
COPY exporters ./exporters
COPY verify ./verify
COPY docs ./docs
RUN pip install ".[plot,sign]"
RUN useradd --create-home shieldkit
USER shieldkit
WORKDIR /work
ENTRYPOINT ["shieldkit"]
CMD ["--help"]

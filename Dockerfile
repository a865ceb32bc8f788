# A CPU-only image with shieldkit: docker build -t shieldkit . && docker run --rm -v "$PWD:/work" shieldkit demo
# CPU wheels only: torch from PyTorch's CPU index, and ONNX Runtime's CPU package in place of the project's
# onnxruntime-gpu (both provide the same `onnxruntime` module; shieldkit passes its providers explicitly).
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
# the project's own dependency list (declared once, in pyproject.toml), with the CPU ONNX Runtime swapped in
RUN python -c "import tomllib; p = tomllib.load(open('pyproject.toml', 'rb'))['project']; \
deps = p['dependencies'] + p['optional-dependencies']['plot'] + p['optional-dependencies']['sign']; \
print('\n'.join(d.replace('onnxruntime-gpu', 'onnxruntime') for d in deps))" > /tmp/requirements.txt \
 && pip install -r /tmp/requirements.txt && pip install --no-deps . \
 && pip install --no-deps "torchattacks>=3.5,<4" \
 && python -c "import onnxruntime as ort; assert ort.get_available_providers()[-1] == 'CPUExecutionProvider'"
RUN useradd --create-home shieldkit
USER shieldkit
WORKDIR /work
ENTRYPOINT ["shieldkit"]
CMD ["--help"]

"""An engine that holds GPU memory: 1 GiB in this process (and, with --deaf, ignores
SIGTERM), serving through `llmsd reference-engine` started as its child in the same process
group. For checking per-process GPU memory and the stop check of llmsd's supervisor."""
import os, signal, subprocess, sys, time
import torch

args = sys.argv[1:]
deaf = "--deaf" in args
args = [a for a in args if a != "--deaf"]
x = torch.empty(1024**3, dtype=torch.uint8, device="cuda")
torch.cuda.synchronize()
print(f"gpu_engine pid {os.getpid()} holds 1 GiB; deaf={deaf}", flush=True)
if deaf:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
llmsd = os.path.join(os.environ["LLMS_BIN"], "llmsd")
child = subprocess.Popen([llmsd, "reference-engine"] + args)
while child.poll() is None:
    time.sleep(0.2)
print("reference engine ended", child.returncode, flush=True)
if deaf:
    while True:
        time.sleep(1)

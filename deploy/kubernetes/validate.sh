#!/usr/bin/env bash
# Validates deploy/kubernetes offline (no cluster, no network):
#   1. yamllint --strict on every YAML file (syntax, duplicate keys, style);
#   2. kubernetes-validate --strict on every Kubernetes object, against the OpenAPI schemas the
#      package bundles, for the oldest Kubernetes these manifests support (1.31: Job
#      podFailurePolicy is GA there) and the newest the package knows;
#   3. the kustomization rendered by `kubectl kustomize` (offline), validated the same way,
#      when kubectl is installed (a loud skip line otherwise);
#   4. what the validators cannot see: kustomization.yaml names files that exist, the shard
#      count agrees in its three places, every container uses the image it rewrites, every
#      ConfigMap a pod uses is generated, and the pods may use podFailurePolicy (restartPolicy
#      Never).
# Needs yamllint and kubernetes-validate on PATH (scripts/test installs the versions pinned in
# peers/requirements-deploy.txt into .peers/venv and puts it first on PATH).
set -euo pipefail
cd "$(dirname "$0")"

# Kubernetes objects: every YAML file but the kustomization and the linter's settings.
objects=()
for f in *.yaml; do
  case "$f" in
    kustomization.yaml) ;;
    *) objects+=("$f") ;;
  esac
done

yamllint --strict -c .yamllint.yaml ./*.yaml .yamllint.yaml
for version in 1.31.0 1.37.0; do
  kubernetes-validate --strict --quiet -k "$version" "${objects[@]}"
done

# What `kubectl apply -k` would send: kustomize (built into kubectl, offline) renders the
# generated ConfigMaps, the image and the patch; the result must validate too, with no
# container left on the placeholder image.
if command -v kubectl >/dev/null 2>&1; then
  rendered=$(mktemp --suffix=.yaml)
  trap 'rm -f "$rendered"' EXIT
  kubectl kustomize . >"$rendered"
  for version in 1.31.0 1.37.0; do
    kubernetes-validate --strict --quiet -k "$version" "$rendered"
  done
  if grep -nE '^ *image: mcpx *$' "$rendered"; then
    echo "deploy/kubernetes: a container still uses the placeholder image after kustomize" >&2
    exit 1
  fi
  echo "deploy/kubernetes: the rendered kustomization ($(grep -c '^kind:' "$rendered") objects) validates"
else
  echo "deploy/kubernetes: SKIPPED rendering the kustomization: kubectl is not installed" \
    "(the files are validated one by one)"
fi

python3 - "${objects[@]}" <<'PY'
import os
import sys

import yaml

errors = []
with open("kustomization.yaml") as f:
    k = yaml.safe_load(f)
for r in k.get("resources", []):
    if not os.path.isfile(r):
        errors.append(f"kustomization.yaml: resource {r} does not exist")
generated = {}
for g in k.get("configMapGenerator", []):
    for path in g.get("files", []):
        if not os.path.isfile(path.split("=")[-1]):
            errors.append(f"kustomization.yaml: {g['name']}: file {path} does not exist")
    generated[g["name"]] = dict(
        lit.split("=", 1) for lit in g.get("literals", [])
    )
images = {i["name"] for i in k.get("images", [])}

shards = generated.get("mcpx-run", {}).get("SHARDS")
patched = {}
for p in k.get("patches", []):
    if p.get("target", {}).get("name") == "mcpx-load":
        for op in yaml.safe_load(p["patch"]):
            patched[op["path"]] = op["value"]
for field in ("/spec/completions", "/spec/parallelism"):
    if str(patched.get(field)) != shards:
        errors.append(
            f"kustomization.yaml: {field} is {patched.get(field)} but SHARDS is {shards}: "
            "the shard count must agree"
        )

for path in sys.argv[1:]:
    with open(path) as f:
        obj = yaml.safe_load(f)
    if obj.get("kind") != "Job" and obj.get("kind") != "Pod":
        continue
    in_kustomization = path in k.get("resources", [])
    spec = obj["spec"]
    pod = spec["template"]["spec"] if obj["kind"] == "Job" else spec
    if obj["kind"] == "Job":
        if "podFailurePolicy" in spec and pod.get("restartPolicy") != "Never":
            errors.append(f"{path}: podFailurePolicy needs restartPolicy: Never")
        if obj["metadata"]["name"] == "mcpx-load":
            if spec.get("completionMode") != "Indexed":
                errors.append(f"{path}: the shard Job must be Indexed")
            for field in ("completions", "parallelism"):
                if str(spec.get(field)) != shards:
                    errors.append(f"{path}: {field} {spec.get(field)} != SHARDS {shards}")
    volumes = {v["name"]: v for v in pod.get("volumes", [])}
    for c in pod.get("initContainers", []) + pod["containers"]:
        if in_kustomization and c["image"] not in images:
            errors.append(f"{path}: container {c['name']} uses image {c['image']}, which kustomization.yaml does not set")
        for e in c.get("envFrom", []):
            name = e.get("configMapRef", {}).get("name")
            if in_kustomization and name and name not in generated:
                errors.append(f"{path}: container {c['name']} reads ConfigMap {name}, which is not generated")
        for m in c.get("volumeMounts", []):
            if m["name"] not in volumes:
                errors.append(f"{path}: container {c['name']} mounts unknown volume {m['name']}")
    for v in volumes.values():
        name = v.get("configMap", {}).get("name")
        if in_kustomization and name and name not in generated:
            errors.append(f"{path}: volume {v['name']} uses ConfigMap {name}, which is not generated")

for e in errors:
    print(f"deploy/kubernetes: {e}", file=sys.stderr)
if errors:
    sys.exit(1)
print(f"deploy/kubernetes: {len(sys.argv) - 1} objects and kustomization.yaml are consistent")
PY

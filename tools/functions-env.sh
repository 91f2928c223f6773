# Sourced by the tools that run the functions or the stand-in locally.
#
# functions_env FILE DATA_API_URL [S3_URL] writes the functions' environment to FILE, with the
# configuration of the Sparkify bucket (local/functions.env) and the Data API (and S3) endpoints
# to call.
functions_env() {
  cat local/functions.env > "$1"
  echo "AWS_ENDPOINT_URL_REDSHIFT_DATA=$2" >> "$1"
  if [[ -n "${3:-}" ]]; then echo "AWS_ENDPOINT_URL_S3=$3" >> "$1"; fi
}

# The project's tools (.tools/, installed by ./dev) on PATH, installing them on first use.
project_tools() {
  [[ -x .tools/venv/bin/cargo-lambda ]] || ./dev tools
  export PATH="$PWD/.tools/bin:$PWD/.tools/venv/bin:$PWD/.tools/node/node_modules/.bin:$PATH"
}

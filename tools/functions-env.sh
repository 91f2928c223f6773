# Sourced by the tools that run the functions or the stand-in locally.
#
# functions_env FILE DATA_API_URL [S3_URL] writes the functions' environment to FILE, with the
# configuration of the Sparkify bucket and the Data API (and S3) endpoints to call.
functions_env() {
  cat > "$1" <<ENV
REDSHIFT_CLUSTER_ID=local
REDSHIFT_DB_USER=etl
REDSHIFT_DATABASE=dev
COPY_ROLE_ARN=arn:aws:iam::123456789012:role/sparkify-copy
DATA_BUCKET=udacity-dend
LOG_PREFIX=log_data/
SONG_PREFIX=song_data/
JSONPATHS_KEY=log_json_path.json
DATA_REGION=us-west-2
AWS_REGION=us-west-2
AWS_ACCESS_KEY_ID=local
AWS_SECRET_ACCESS_KEY=local
AWS_ENDPOINT_URL_REDSHIFT_DATA=$2
ENV
  if [[ -n "${3:-}" ]]; then echo "AWS_ENDPOINT_URL_S3=$3" >> "$1"; fi
}

# The project's tools (.tools/, installed by ./dev) on PATH, installing them on first use.
project_tools() {
  [[ -x .tools/venv/bin/cargo-lambda ]] || ./dev tools
  export PATH="$PWD/.tools/bin:$PWD/.tools/venv/bin:$PWD/.tools/node/node_modules/.bin:$PATH"
}

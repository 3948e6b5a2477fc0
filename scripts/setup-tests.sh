#!/bin/sh
# Installs what the test suite needs beyond scripts/setup.sh, from the package registries
# only, and does nothing for what is already there. Each part says which tests use it.
set -eu
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"

# Debian packages (real origin frameworks, load tools). apt-get needs root; a machine
# without it must have them already.
#   tests/e2e/origins.test.mjs: nginx; Sinatra (Rack::MethodOverride) on WEBrick; PHP's
#   built-in server with Symfony HttpFoundation and Routing.
#   tests/browser/*.test.mjs: Chromium (driven by npm's playwright-core) and a font for the
#   page's text in its screenshots.
APT_PACKAGES="nginx ruby-sinatra ruby-webrick php-cli php-symfony-http-foundation php-symfony-routing chromium fonts-dejavu-core"
missing=""
for pkg in $APT_PACKAGES; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing="$missing $pkg"
done
if [ -n "$missing" ]; then
  echo "setup-tests: installing Debian packages:$missing"
  # Package scripts must not start services (nginx would listen on port 80); the tests
  # start their own, on 127.0.0.1, and stop them.
  policy_rc=""
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
    chmod +x /usr/sbin/policy-rc.d
    policy_rc=/usr/sbin/policy-rc.d
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing
  [ -z "$policy_rc" ] || rm -f "$policy_rc"
fi

# Python tools (real origin frameworks, the API tester), pinned in requirements-test.txt,
# in a virtual environment of the project's own: .venv/
if [ -s requirements-test.txt ]; then
  if [ ! -x .venv/bin/python ]; then
    echo "setup-tests: creating .venv"
    python3 -m venv .venv
  fi
  if ! cmp -s requirements-test.txt .venv/.installed-requirements; then
    echo "setup-tests: installing Python packages"
    .venv/bin/pip install --quiet --disable-pip-version-check -r requirements-test.txt
    cp requirements-test.txt .venv/.installed-requirements
  fi
  # keygate's own Python verifier, installed by path as its users do, again whenever its
  # sources change (packages/verify-py's tests import the installed copy).
  verify_py=$(find packages/verify-py/pyproject.toml packages/verify-py/src -type f -name '*.py' -o -type f -name '*.toml' | sort | xargs cat | sha256sum)
  if [ "$verify_py" != "$(cat .venv/.installed-verify-py 2>/dev/null)" ]; then
    echo "setup-tests: installing packages/verify-py"
    .venv/bin/pip install --quiet --disable-pip-version-check --force-reinstall --no-deps ./packages/verify-py
    echo "$verify_py" > .venv/.installed-verify-py
  fi
fi

# cargo-fuzz, for the fuzz targets in fuzz/ (scripts/fuzz.sh). The targets build with the
# nightly toolchain, which rustup provides beside stable.
if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "setup-tests: installing cargo-fuzz"
  rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
  cargo install cargo-fuzz --locked
fi

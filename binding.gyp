# Builds native/dovetail_native.c into build/Release/dovetail_native.node
# (kernel file locks and setresgid, see src/lock/native.ts). `npm ci` runs
# `node-gyp rebuild` through package.json's install script.
{
  "targets": [
    {
      "target_name": "dovetail_native",
      "sources": ["native/dovetail_native.c"],
      "cflags": ["-Wall", "-Wextra"]
    }
  ]
}

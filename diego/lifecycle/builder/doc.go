// Package builder is the library behind the lifecycle's builder program,
// which stages an app inside a staging container the way Cloud Foundry's
// buildpackapplifecycle builder does.
//
// The staging task's setup has already put the app bits in BuildDir, each
// buildpack unzipped in BuildpacksDir/<md5 of its key>, and the previous
// build-artifacts cache in BuildArtifactsCacheDir; the builder downloads
// nothing. Run then:
//
//  1. Detects: runs each buildpack's bin/detect BUILD_DIR in BuildpackOrder,
//     and the first to exit 0 is the final buildpack. With SkipDetect the
//     order is used as given: every buildpack but the last runs
//     bin/supply BUILD_DIR CACHE_DIR DEPS_DIR IDX (multi-buildpack).
//  2. Builds with the final buildpack: bin/supply (if present) and
//     bin/finalize BUILD_DIR CACHE_DIR DEPS_DIR IDX PROFILE_DIR (the current
//     API), or bin/compile BUILD_DIR CACHE_DIR when there is no finalize
//     (the legacy API).
//  3. Works out process types: deps/<idx>/launch.yml of each buildpack,
//     else the final buildpack's bin/release YAML (default_process_types;
//     its config_vars become profile.d/000_config_vars.sh), then the app's
//     Procfile, which wins.
//  4. Writes staging_info.yml, the result JSON, the droplet tgz and the
//     build-artifacts cache tgz.
//
// Buildpack output is connected straight to the builder's stdout and
// stderr, so it streams line by line to the staging log. Failures map to
// CF's exit codes through ExitCode.
//
// The droplet is laid out as the launcher expects it under /home/vcap:
//
//	./app/                the compiled app (HOME at run time)
//	./deps/<idx>/         what each buildpack supplied
//	./profile.d/*.sh      scripts buildpacks wrote to the profile dir
//	./tmp/ ./logs/
//	./staging_info.yml    {"detected_buildpack": …, "start_command": …}
package builder

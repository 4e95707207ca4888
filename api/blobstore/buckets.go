package blobstore

// The buckets. Every object lives in one of them.
const (
	// BucketPackages holds app packages: the zips `cf push` uploads,
	// assembled with cached resources (key: package GUID).
	BucketPackages = "packages"
	// BucketDroplets holds staged app tarballs (key: droplet GUID, or
	// GUID/checksum).
	BucketDroplets = "droplets"
	// BucketBuildpacks holds admin buildpack zips.
	BucketBuildpacks = "buildpacks"
	// BucketBuildpackCache holds the build-artifact caches staging keeps
	// between builds of an app (key: app GUID/stack).
	BucketBuildpackCache = "buildpack_cache"
	// BucketResources is the resource cache for CF resource matching: one
	// app file per object, keyed by [ResourceKey] of its SHA-1.
	BucketResources = "resources"
)

var buckets = [...]string{BucketPackages, BucketDroplets, BucketBuildpacks, BucketBuildpackCache, BucketResources}

// Buckets returns every bucket name.
func Buckets() []string { return append([]string(nil), buckets[:]...) }

// ValidBucket reports whether name is a bucket.
func ValidBucket(name string) bool {
	for _, b := range buckets {
		if b == name {
			return true
		}
	}
	return false
}

// Command needsmodule imports a module that is neither vendored nor cached.
package main

import "example.com/missing"

func main() { missing.Run() }

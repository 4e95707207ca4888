// Command hello is the sample pre-built app of the binary buildpack tests:
// it answers every request on $PORT with a greeting and its HOME.
package main

import (
	"fmt"
	"net/http"
	"os"
)

func main() {
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello from a binary, HOME=%s\n", os.Getenv("HOME"))
	})
	if err := http.ListenAndServe(":"+os.Getenv("PORT"), nil); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

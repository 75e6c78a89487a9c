// The Go peer of Knot's benchmark: net/http serving a directory, one
// goroutine per connection, with an open and a stat per request and no
// caching of contents (http.FileServer does exactly that).
//
//	go run goserver.go -root DIR -port N   (GOMAXPROCS=1 in the benchmark)
package main

import (
	"flag"
	"fmt"
	"log"
	"net/http"
)

func main() {
	root := flag.String("root", ".", "directory to serve")
	port := flag.Int("port", 8080, "port")
	flag.Parse()
	srv := &http.Server{
		Addr:    fmt.Sprintf("0.0.0.0:%d", *port),
		Handler: http.FileServer(http.Dir(*root)),
	}
	log.Fatal(srv.ListenAndServe())
}

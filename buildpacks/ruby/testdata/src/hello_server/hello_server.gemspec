Gem::Specification.new do |s|
  s.name = "hello_server"
  s.version = "1.0.0"
  s.summary = "ruby_buildpack's test gem: a tiny HTTP server on $PORT"
  s.authors = ["Anvil"]
  s.license = "Apache-2.0"
  s.files = ["lib/hello_server.rb", "exe/hello_server"]
  s.bindir = "exe"
  s.executables = ["hello_server"]
  s.required_ruby_version = ">= 2.7"
end

import CJemalloc  // links jemalloc: the allocator of the whole process (see CJemalloc/shim.h)
import JemallocOptions  // and its options (see JemallocOptions/options.c)
import YidangCLI

@main
enum Entry {
    static func main() async {
        await YidangCommand.main(nil)
    }
}

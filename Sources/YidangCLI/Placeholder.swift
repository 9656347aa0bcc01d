public enum YidangCommand { public static func main() {} }

# Builds Kartoteka's installable Debian package. Sourced by `.ci/dev package`, which has already
# built the UI (ui/dist) and set APP_TARGET (the Tauri shell's cargo target dir).
#
# Why not `tauri build`: the Tauri CLI wants its config next to a Cargo.toml that is the app package,
# while our root Cargo.toml is a workspace (tauri.conf.json at the root, app crate in src-tauri/); it
# stops with "No package info in the config file". So we do its two steps ourselves: the release
# build with the `custom-protocol` feature (what the CLI adds), then the .deb laid out as Tauri lays
# it out (binary, .desktop entry, hicolor icons, control file with the config's dependencies).

# conf KEY: one value from tauri.conf.json (a dotted path), empty when absent.
conf() {
    node -e '
        const conf = require(process.argv[1]);
        const value = process.argv[2].split(".").reduce((v, k) => (v == null ? v : v[k]), conf);
        process.stdout.write(value == null ? "" : Array.isArray(value) ? value.join(", ") : String(value));
    ' "$ROOT/tauri.conf.json" "$1"
}

build_deb_package() {
    local name=kartoteka
    local product version description summary depends arch
    product=$(conf productName)
    version=$(conf version)
    summary=$(conf bundle.shortDescription)
    description=$(conf bundle.longDescription)
    depends=$(conf bundle.linux.deb.depends)
    arch=$(dpkg --print-architecture)
    [[ -n $product && -n $version ]] || die "tauri.conf.json needs productName and version"

    say "Release build of the app (cargo build --release --features custom-protocol)"
    CARGO_TARGET_DIR=$APP_TARGET cargo build --release -p kartoteka --features custom-protocol
    local binary=$APP_TARGET/release/kartoteka
    [[ -x $binary ]] || die "the release build left no binary at $binary"

    local out_dir=$APP_TARGET/release/bundle/deb
    local stage=$out_dir/${name}_${version}_${arch}
    rm -rf "$stage"
    mkdir -p "$stage/DEBIAN" "$stage/usr/bin" "$stage/usr/share/applications"

    install -m 0755 "$binary" "$stage/usr/bin/$name"
    strip --strip-unneeded "$stage/usr/bin/$name"

    # hicolor icons: file name says the size (128x128@2x is the 256 px one).
    local icon size
    for icon in "$ROOT"/icons/*.png; do
        size=$(identify -format '%wx%h' "$icon" 2>/dev/null || true)
        case $size in
            32x32 | 64x64 | 128x128 | 256x256 | 512x512) ;;
            *) continue ;;
        esac
        mkdir -p "$stage/usr/share/icons/hicolor/$size/apps"
        install -m 0644 "$icon" "$stage/usr/share/icons/hicolor/$size/apps/$name.png"
    done
    [[ -d $stage/usr/share/icons ]] || die "no usable PNG icons in icons/"

    cat >"$stage/usr/share/applications/$name.desktop" <<EOF
[Desktop Entry]
Type=Application
Name=$product
Comment=$summary
Exec=$name
Icon=$name
Terminal=false
Categories=Office;
StartupWMClass=$name
EOF

    local installed_kib
    installed_kib=$(du -sk --exclude=DEBIAN "$stage" | cut -f1)
    {
        echo "Package: $name"
        echo "Version: $version"
        echo "Architecture: $arch"
        echo "Maintainer: Kartoteka developers <kartoteka@localhost>"
        echo "Installed-Size: $installed_kib"
        [[ -n $depends ]] && echo "Depends: $depends"
        echo "Section: office"
        echo "Priority: optional"
        echo "Description: $summary"
        # Continuation lines of a control field start with a space.
        echo "$description" | fold -s -w 78 | sed -e 's/ *$//' -e 's/^/ /'
    } >"$stage/DEBIAN/control"
    (cd "$stage" && find usr -type f -exec md5sum {} + >DEBIAN/md5sums)

    local deb=$out_dir/${name}_${version}_${arch}.deb
    dpkg-deb --root-owner-group -Zxz --build "$stage" "$deb" >/dev/null
    rm -rf "$stage"
    dpkg-deb --info "$deb"
    dpkg-deb --contents "$deb"
    say "Package: $deb"
    echo "Install it with: sudo apt install $deb"
}

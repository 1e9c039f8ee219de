"""Phrase banks for plausible Indonesian demo reports (what people actually write to LAPOR)."""

from __future__ import annotations

# service code -> (titles, problem sentences); {place} is a district or village name.
PROBLEMS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "ktp-el": (
        ("KTP-el belum dicetak", "Blangko KTP-el habis", "Perekaman KTP-el tidak jelas"),
        (
            "Saya sudah melakukan perekaman KTP-el di {place} tetapi kartunya belum dicetak.",
            "Petugas mengatakan blangko KTP-el habis dan meminta saya kembali bulan depan.",
            "KTP-el anak saya yang baru berusia 17 tahun belum jadi padahal sudah rekam.",
            "Data KTP-el saya salah tulis nama dan sudah diurus tetapi belum diperbaiki.",
        ),
    ),
    "kartu-keluarga": (
        ("Kartu Keluarga belum diterbitkan", "Pisah KK dipersulit", "Perubahan KK lama"),
        (
            "Pengurusan Kartu Keluarga setelah menikah di {place} sudah sebulan belum selesai.",
            "Saya ingin pisah KK dari orang tua tetapi berkas ditolak tanpa penjelasan.",
            "Nama anak saya belum masuk ke Kartu Keluarga padahal akta sudah ada.",
        ),
    ),
    "akta-kelahiran": (
        ("Akta kelahiran anak belum selesai", "Akta kelahiran dipungut biaya"),
        (
            "Akta kelahiran anak saya yang lahir di puskesmas {place} belum juga terbit.",
            "Petugas meminta uang untuk mempercepat penerbitan akta kelahiran.",
            "Berkas akta kelahiran dikembalikan karena surat keterangan lahir dianggap kurang.",
        ),
    ),
    "akta-kematian": (
        ("Akta kematian orang tua", "Pengurusan akta kematian berbelit"),
        (
            "Ayah saya meninggal tiga bulan lalu dan akta kematian belum diterbitkan.",
            "Kami diminta bolak-balik ke kantor desa dan dinas untuk akta kematian.",
        ),
    ),
    "pindah-datang": (
        ("Surat pindah belum keluar", "Pindah domisili dipersulit"),
        (
            "Surat keterangan pindah dari {place} belum keluar sehingga anak tidak bisa sekolah.",
            "Data kepindahan saya belum masuk di daerah tujuan padahal sudah dua minggu.",
        ),
    ),
    "ikd": (
        ("Aplikasi IKD tidak bisa aktivasi", "IKD gagal verifikasi wajah"),
        (
            "Aktivasi Identitas Kependudukan Digital gagal terus saat verifikasi wajah.",
            "Kode QR aktivasi IKD tidak bisa dipindai di aplikasi.",
        ),
    ),
    "data-kependudukan": (
        ("NIK tidak terdaftar", "NIK ganda", "Data kependudukan tidak padan"),
        (
            "Saat mendaftar BPJS, NIK saya dinyatakan tidak terdaftar di data Dukcapil.",
            "NIK saya sama dengan NIK orang lain di kabupaten berbeda.",
        ),
    ),
    "pkh": (
        ("Bantuan PKH tidak cair", "Dicoret dari PKH tanpa alasan", "Pendamping PKH minta uang"),
        (
            "Bantuan PKH tahap ini tidak masuk ke rekening KKS kami di {place}.",
            "Keluarga kami dicoret dari penerima PKH padahal kondisi ekonomi tidak berubah.",
            "Pendamping PKH meminta potongan dari bantuan yang kami terima.",
        ),
    ),
    "bpnt": (
        ("BPNT tidak diterima", "Sembako BPNT kurang", "Saldo KKS kosong"),
        (
            "Saldo Kartu Keluarga Sejahtera kosong sehingga bantuan sembako tidak bisa diambil.",
            "Beras dan telur dari e-warong di {place} tidak sesuai nilai bantuan.",
        ),
    ),
    "dtsen": (
        ("Tidak masuk DTSEN", "Usulan bansos tidak diproses", "Desil DTSEN salah"),
        (
            "Keluarga kami miskin tetapi tidak terdata dalam DTSEN walau sudah diusulkan desa.",
            "Desil keluarga kami di DTSEN tidak sesuai kondisi sebenarnya.",
            "Usulan bantuan sosial dari musyawarah desa {place} tidak ditindaklanjuti dinas.",
        ),
    ),
    "pbi-jk": (
        ("PBI JKN dinonaktifkan", "Kartu KIS PBI tidak aktif"),
        (
            "Kepesertaan PBI JKN ibu saya dinonaktifkan saat sedang dirawat.",
            "Kartu KIS kami tidak aktif lagi dan diminta membayar iuran mandiri.",
        ),
    ),
    "rehabilitasi-sosial": (
        ("ODGJ terlantar", "Lansia terlantar butuh bantuan"),
        (
            "Ada orang dengan gangguan jiwa terlantar di pasar {place} sejak seminggu.",
            "Seorang lansia tinggal sendiri tanpa perawatan dan butuh bantuan dinas sosial.",
        ),
    ),
    "blt-dana-desa": (
        ("BLT Dana Desa tidak merata", "BLT Dana Desa dipotong"),
        (
            "Penerima BLT Dana Desa di {place} kebanyakan kerabat perangkat desa.",
            "BLT Dana Desa yang kami terima dipotong oleh oknum perangkat desa.",
        ),
    ),
    "jkn": (
        ("Ditolak faskes BPJS", "Rujukan BPJS dipersulit", "Iuran BPJS terpotong ganda"),
        (
            "Pasien peserta BPJS Kesehatan diminta membayar obat di rumah sakit.",
            "Rujukan dari faskes pertama ke rumah sakit dipersulit dengan alasan kuota.",
            "Iuran BPJS Kesehatan saya terpotong dua kali bulan ini.",
        ),
    ),
    "puskesmas": (
        ("Pelayanan puskesmas lambat", "Puskesmas tutup jam kerja", "Obat puskesmas kosong"),
        (
            "Puskesmas {place} sudah tutup pukul 11 siang padahal masih jam pelayanan.",
            "Antrean di puskesmas sangat panjang dan dokter tidak ada di tempat.",
            "Obat untuk penyakit darah tinggi selalu kosong di puskesmas.",
        ),
    ),
    "rsud": (
        ("Pelayanan IGD RSUD buruk", "Kamar RSUD penuh", "Petugas RSUD kasar"),
        (
            "Pasien di IGD RSUD dibiarkan menunggu berjam-jam tanpa penanganan.",
            "Keluarga pasien diminta mencari kamar sendiri karena ruang rawat penuh.",
        ),
    ),
    "cek-kesehatan-gratis": (
        ("Cek Kesehatan Gratis tidak tersedia", "Jadwal CKG tidak jelas"),
        (
            "Puskesmas menolak Cek Kesehatan Gratis untuk ulang tahun saya bulan ini.",
            "Jadwal pemeriksaan Cek Kesehatan Gratis di {place} tidak diumumkan.",
        ),
    ),
    "makan-bergizi-gratis": (
        ("Makanan MBG basi", "Menu MBG tidak layak", "MBG terlambat"),
        (
            "Makanan bergizi gratis di sekolah anak saya di {place} berbau basi.",
            "Porsi Makan Bergizi Gratis sangat sedikit dan lauknya tidak layak.",
            "Beberapa siswa mual setelah makan dari dapur SPPG.",
        ),
    ),
    "spmb-sd-smp": (
        ("SPMB SMP tidak transparan", "Zonasi SPMB salah", "Anak tidak diterima SD terdekat"),
        (
            "Anak kami tidak diterima di SMP negeri terdekat walau rumah hanya 300 meter.",
            "Hasil seleksi SPMB jalur domisili di {place} tidak diumumkan terbuka.",
        ),
    ),
    "spmb-sma-smk": (
        ("SPMB SMA bermasalah", "Titik koordinat SPMB SMA salah"),
        (
            "Sistem SPMB SMA error saat pendaftaran hari terakhir.",
            "Titik koordinat rumah kami salah sehingga jarak ke SMA dihitung jauh.",
        ),
    ),
    "sekolah-negeri": (
        ("Pungutan di sekolah negeri", "Ijazah ditahan sekolah", "Guru jarang masuk"),
        (
            "Sekolah negeri di {place} meminta uang seragam dan buku yang mahal.",
            "Ijazah anak saya ditahan karena ada tunggakan sumbangan sekolah.",
            "Guru kelas jarang masuk sehingga siswa sering dipulangkan lebih awal.",
        ),
    ),
    "pip": (
        ("Dana PIP belum cair", "Dana PIP dipotong sekolah"),
        (
            "Dana Program Indonesia Pintar anak saya belum cair padahal sudah ditetapkan.",
            "Pihak sekolah memotong dana PIP dengan alasan administrasi.",
        ),
    ),
    "dana-bos": (
        ("Penggunaan dana BOS tidak transparan",),
        ("Penggunaan dana BOS di sekolah tidak diumumkan kepada orang tua murid.",),
    ),
    "oss": (
        ("NIB tidak terbit di OSS", "Izin usaha lama", "OSS error"),
        (
            "Pengajuan NIB di sistem OSS tertahan verifikasi lebih dari sebulan.",
            "Izin usaha warung makan kami di {place} belum terbit meski berkas lengkap.",
        ),
    ),
    "pbg": (
        ("PBG lama terbit", "Biaya PBG tidak jelas"),
        ("Persetujuan Bangunan Gedung untuk rumah tinggal kami belum terbit setelah tiga bulan.",),
    ),
    "sim": (
        ("Ujian praktik SIM dipersulit", "Calo SIM", "Perpanjangan SIM lama"),
        (
            "Ujian praktik SIM C di Satpas sangat sulit dan banyak calo menawarkan jalan pintas.",
            "Perpanjangan SIM memakan waktu seharian karena sistem sering mati.",
        ),
    ),
    "stnk-bpkb": (
        ("BPKB belum jadi", "Pembayaran STNK di Samsat lama"),
        (
            "BPKB motor saya belum jadi padahal sudah enam bulan.",
            "Antrean pengesahan STNK tahunan di Samsat sangat panjang.",
        ),
    ),
    "skck": (
        ("SKCK dipungut biaya lebih", "Pembuatan SKCK lama"),
        ("Pembuatan SKCK di polsek {place} dikenakan biaya di luar ketentuan.",),
    ),
    "paspor": (
        ("Antrean paspor penuh", "Paspor belum terbit", "Aplikasi M-Paspor error"),
        (
            "Kuota antrean paspor di aplikasi M-Paspor selalu penuh selama sebulan.",
            "Paspor saya belum terbit walau wawancara sudah dua minggu lalu.",
        ),
    ),
    "pajak-pusat": (
        ("Coretax tidak bisa login", "NPWP bermasalah", "Lapor SPT gagal"),
        (
            "Aplikasi Coretax tidak bisa dipakai untuk lapor SPT tahunan.",
            "NPWP saya tidak valid setelah pemadanan NIK menjadi NPWP.",
        ),
    ),
    "pbb-p2": (
        ("Tagihan PBB tidak sesuai", "SPPT PBB belum diterima"),
        (
            "Tagihan PBB rumah kami di {place} naik berlipat tanpa pemberitahuan.",
            "SPPT PBB tahun ini belum dibagikan padahal jatuh tempo sudah dekat.",
        ),
    ),
    "pajak-kendaraan": (
        ("Denda pajak kendaraan", "Pemutihan pajak kendaraan"),
        ("Denda pajak kendaraan tetap ditagih padahal ada program pemutihan.",),
    ),
    "sertifikat-tanah": (
        ("Sertifikat tanah PTSL belum terbit", "Pengukuran tanah lama"),
        (
            "Sertifikat tanah program PTSL di {place} belum terbit sejak dua tahun.",
            "Petugas BPN meminta biaya tambahan untuk pengukuran bidang tanah.",
        ),
    ),
    "nikah-kua": (
        ("Biaya nikah di KUA", "Buku nikah salah cetak"),
        ("Kami diminta biaya nikah di KUA padahal akad dilakukan di kantor pada jam kerja.",),
    ),
    "haji-umrah": (
        ("Informasi porsi haji", "Pelunasan haji"),
        ("Informasi nomor porsi dan estimasi keberangkatan haji tidak bisa diakses.",),
    ),
    "bpjs-ketenagakerjaan": (
        ("Klaim JHT ditolak", "Pencairan JHT lama"),
        (
            "Klaim Jaminan Hari Tua saya ditolak karena data perusahaan tidak sesuai.",
            "Pencairan JHT sudah sebulan belum masuk rekening.",
        ),
    ),
    "hubungan-industrial": (
        ("Gaji di bawah UMK", "PHK tanpa pesangon"),
        (
            "Perusahaan tempat saya bekerja di {place} membayar gaji di bawah UMK.",
            "Saya di-PHK tanpa pesangon setelah bekerja lima tahun.",
        ),
    ),
    "jalan-kabupaten": (
        ("Jalan rusak berlubang", "Jalan desa rusak parah", "Jalan berlumpur saat hujan"),
        (
            "Jalan menuju {place} rusak parah dan berlubang sehingga sering terjadi kecelakaan.",
            "Aspal jalan kabupaten mengelupas dan saat hujan berubah menjadi kubangan lumpur.",
            "Jalan yang baru diperbaiki tahun lalu sudah rusak kembali.",
        ),
    ),
    "jalan-provinsi": (
        ("Jalan provinsi longsor", "Jalan provinsi rusak"),
        ("Ruas jalan provinsi dekat {place} longsor dan hanya bisa dilewati satu lajur.",),
    ),
    "jalan-nasional": (
        ("Jembatan jalan nasional retak", "Lubang di jalan nasional"),
        ("Ada lubang besar di jalan nasional lintas {place} yang membahayakan pengendara.",),
    ),
    "penerangan-jalan": (
        ("Lampu jalan mati", "PJU padam berbulan-bulan"),
        ("Lampu penerangan jalan umum di {place} mati sejak tiga bulan sehingga rawan.",),
    ),
    "air-minum": (
        ("Air PDAM mati", "Air PDAM keruh", "Tagihan PDAM melonjak"),
        (
            "Air PDAM di {place} tidak mengalir selama seminggu tanpa pemberitahuan.",
            "Air PDAM keruh dan berbau sehingga tidak bisa dipakai memasak.",
            "Tagihan PDAM bulan ini melonjak padahal pemakaian biasa saja.",
        ),
    ),
    "persampahan": (
        ("Sampah menumpuk", "Truk sampah tidak datang"),
        ("Sampah di TPS {place} menumpuk dan berbau karena truk tidak datang seminggu.",),
    ),
    "drainase-banjir": (
        ("Banjir karena drainase tersumbat", "Selokan mampet"),
        ("Drainase di {place} tersumbat sehingga setiap hujan rumah warga kebanjiran.",),
    ),
    "pelayanan-lainnya": (
        ("Pelayanan kantor kecamatan buruk", "Petugas tidak ramah"),
        ("Petugas di kantor kecamatan {place} tidak ada di tempat saat jam pelayanan.",),
    ),
}

OPENERS = (
    "Selamat pagi, saya warga {place}.",
    "Mohon bantuan Bapak/Ibu.",
    "Saya ingin melaporkan masalah pelayanan.",
    "Assalamualaikum, izin melapor.",
    "Yth. admin, saya mau mengadu.",
    "",
    "",
)
DETAILS = (
    "Sudah saya tanyakan berkali-kali ke petugas tetapi tidak ada kepastian.",
    "Masalah ini sudah berlangsung {weeks} minggu.",
    "Banyak warga lain mengalami hal yang sama.",
    "Saya sudah datang ke kantor {times} kali.",
    "Tidak ada informasi yang jelas di papan pengumuman.",
    "",
)
CLOSINGS = (
    "Mohon segera ditindaklanjuti.",
    "Terima kasih atas perhatiannya.",
    "Mohon kejelasannya.",
    "Kami berharap ada solusi secepatnya.",
    "",
)
ANSWERS = (
    "Terima kasih atas laporannya. Petugas kami telah menindaklanjuti dan masalah sudah "
    "diselesaikan.",
    "Laporan telah kami teruskan ke bidang terkait dan sudah ditangani. Mohon maaf atas "
    "ketidaknyamanannya.",
    "Berkas Anda telah kami proses. Silakan datang ke kantor pelayanan dengan membawa tanda "
    "terima.",
    "Kami telah melakukan pengecekan lapangan dan perbaikan dijadwalkan minggu ini.",
)
FIRST_NAMES = (
    "Agus",
    "Budi",
    "Siti",
    "Dewi",
    "Rudi",
    "Wati",
    "Ahmad",
    "Nur",
    "Putu",
    "Made",
    "Teuku",
    "Cut",
    "Yohanes",
    "Maria",
    "Andi",
    "Sri",
    "Bambang",
    "Fitri",
    "Rahmat",
    "Lestari",
)
LAST_NAMES = (
    "Saputra",
    "Wijaya",
    "Lestari",
    "Hidayat",
    "Siregar",
    "Nasution",
    "Sinaga",
    "Pratama",
    "Santoso",
    "Rahmawati",
    "Kurniawan",
    "Harahap",
    "Gultom",
    "Manurung",
    "Setiawan",
)

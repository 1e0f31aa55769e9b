from tests.conftest import TEST_PASSWORD, login


def test_login_page_is_dutch_and_public(client):
    response = client.get("/auth/login")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"
    assert 'lang="nl"' in response.get_data(as_text=True)


def test_coordinator_signs_in_and_sees_room(client, make):
    district = make.district("STAD", "Almere Stad")
    school = make.organisation("school_location", district=district, name="Vaartzicht College")
    user = make.user(
        "school_coordinator", organisation=school, password=TEST_PASSWORD, scope="location", scope_organisation=school
    )
    room = make.room(district)
    make.member(room, user)
    response = login(client, user)
    assert response.status_code == 302
    home = client.get("/")
    assert home.status_code == 200
    assert "Testnetwerk" in home.get_data(as_text=True)
